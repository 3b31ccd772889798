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
        string program = await CCompiler.CompileAsync(_temp.Path, "poll", source);
        ProcessResult result = (await ExternalProcess.RunAsync(program, [])).EnsureSuccess("poll");
        Dictionary<string, long> c = result.StandardOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(line => line.Split('='))
            .ToDictionary(parts => parts[0], parts => long.Parse(parts[1], CultureInfo.InvariantCulture));

        void Check(string name, long binding) => Assert.True(c[name] == binding, $"{name}: the header says {c[name]}, the binding uses {binding}");
        Check("POLLIN", Unix.POLLIN);
        Check("POLLOUT", Unix.POLLOUT);
        Check("POLLERR", Unix.POLLERR);
        Check("POLLHUP", Unix.POLLHUP);
        Check("POLLNVAL", Unix.POLLNVAL);
        // The loop passes its events to poll unconverted, as it does to epoll.
        Check("POLLIN", (long)PollEvents.Readable);
        Check("POLLOUT", (long)PollEvents.Writable);
        Check("POLLERR", (long)PollEvents.Error);
        Check("POLLHUP", (long)PollEvents.HangUp);
        unsafe
        {
            Check("sizeof(struct pollfd)", sizeof(Unix.PollFd));
        }

        Check("offsetof(struct pollfd, fd)", Marshal.OffsetOf<Unix.PollFd>(nameof(Unix.PollFd.Fd)).ToInt64());
        Check("offsetof(struct pollfd, events)", Marshal.OffsetOf<Unix.PollFd>(nameof(Unix.PollFd.Events)).ToInt64());
        Check("offsetof(struct pollfd, revents)", Marshal.OffsetOf<Unix.PollFd>(nameof(Unix.PollFd.ReturnedEvents)).ToInt64());
        // The binding passes the count as a nuint (Linux's unsigned long).
        Check("sizeof(nfds_t)", IntPtr.Size);
    }
}
