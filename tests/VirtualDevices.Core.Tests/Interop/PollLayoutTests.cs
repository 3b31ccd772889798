using System.Globalization;
using System.Runtime.InteropServices;
using VirtualDevices.Interop;
using VirtualDevices.IO.Polling;
using VirtualDevices.Tests.Infrastructure;

namespace VirtualDevices.Tests.Interop;

/// <summary>The poll(2) binding (the poll loop's portable backend, the event channel device's wait), checked against the C headers.</summary>
public sealed class PollLayoutTests : IDisposable
{
    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    [Fact]
    public async Task PollConstantsAndStructLayoutMatchTheCHeaders()
    {
        Assert.True(OperatingSystem.IsLinux(), "the header check runs on Linux");
        const string source = """
            #include <poll.h>
            #include <stddef.h>
            #include <stdio.h>
            #define P(name) printf(#name "=%lld\n", (long long)(name))
            int main(void) {
                P(POLLIN); P(POLLOUT); P(POLLERR); P(POLLHUP); P(POLLNVAL);
                P(sizeof(struct pollfd)); P(offsetof(struct pollfd, fd)); P(offsetof(struct pollfd, events));
                P(offsetof(struct pollfd, revents)); P(sizeof(nfds_t));
                return 0;
            }
            """;
        CHeaderValues c = await CHeaderValues.CompileAndRunAsync(_temp.Path, "poll", source);

        c.Check("POLLIN", Unix.POLLIN);
        c.Check("POLLOUT", Unix.POLLOUT);
        c.Check("POLLERR", Unix.POLLERR);
        c.Check("POLLHUP", Unix.POLLHUP);
        c.Check("POLLNVAL", Unix.POLLNVAL);
        // The loop passes its events to poll unconverted, as it does to epoll.
        c.Check("POLLIN", (long)PollEvents.Readable);
        c.Check("POLLOUT", (long)PollEvents.Writable);
        c.Check("POLLERR", (long)PollEvents.Error);
        c.Check("POLLHUP", (long)PollEvents.HangUp);
        unsafe
        {
            c.Check("sizeof(struct pollfd)", sizeof(Unix.PollFd));
        }

        c.Check("offsetof(struct pollfd, fd)", Marshal.OffsetOf<Unix.PollFd>(nameof(Unix.PollFd.Fd)).ToInt64());
        c.Check("offsetof(struct pollfd, events)", Marshal.OffsetOf<Unix.PollFd>(nameof(Unix.PollFd.Events)).ToInt64());
        c.Check("offsetof(struct pollfd, revents)", Marshal.OffsetOf<Unix.PollFd>(nameof(Unix.PollFd.ReturnedEvents)).ToInt64());
        // The binding passes the count as a nuint (Linux's unsigned long).
        c.Check("sizeof(nfds_t)", IntPtr.Size);

        c.AssertAllMatch();
    }
}
