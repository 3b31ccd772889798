using System.Globalization;
using VirtualDevices.Interop;
using VirtualDevices.IO.Polling;
using VirtualDevices.Tests.Infrastructure;

namespace VirtualDevices.Tests.Interop;

/// <summary>The epoll, eventfd and recv/send bindings the poll loop uses, checked against the C headers.</summary>
public sealed class EpollLayoutTests : IDisposable
{
    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    [Fact]
    public async Task EpollConstantsAndStructLayoutMatchTheCHeaders()
    {
        Assert.True(OperatingSystem.IsLinux(), "the header check runs on Linux");
        const string source = """
            #define _GNU_SOURCE
            #include <errno.h>
            #include <stddef.h>
            #include <stdio.h>
            #include <sys/epoll.h>
            #include <sys/eventfd.h>
            #include <sys/socket.h>
            #define P(name) printf(#name "=%lld\n", (long long)(name))
            int main(void) {
                P(EPOLLIN); P(EPOLLOUT); P(EPOLLERR); P(EPOLLHUP); P(EPOLLRDHUP);
                P(EPOLL_CTL_ADD); P(EPOLL_CTL_DEL); P(EPOLL_CTL_MOD); P(EPOLL_CLOEXEC);
                P(sizeof(struct epoll_event)); P(offsetof(struct epoll_event, events)); P(offsetof(struct epoll_event, data));
                P(sizeof(epoll_data_t));
                P(EFD_CLOEXEC); P(EFD_NONBLOCK); P(sizeof(eventfd_t));
                P(MSG_DONTWAIT); P(MSG_NOSIGNAL); P(EAGAIN); P(EWOULDBLOCK); P(EINTR);
                return 0;
            }
            """;
        string program = await CCompiler.CompileAsync(_temp.Path, "epoll", source);
        ProcessResult result = (await ExternalProcess.RunAsync(program, [])).EnsureSuccess("epoll");
        Dictionary<string, long> c = result.StandardOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(line => line.Split('='))
            .ToDictionary(parts => parts[0], parts => long.Parse(parts[1], CultureInfo.InvariantCulture));

        void Check(string name, long binding) => Assert.True(c[name] == binding, $"{name}: the header says {c[name]}, the binding uses {binding}");
        Check("EPOLLIN", Unix.EPOLLIN);
        Check("EPOLLOUT", Unix.EPOLLOUT);
        Check("EPOLLERR", Unix.EPOLLERR);
        Check("EPOLLHUP", Unix.EPOLLHUP);
        Check("EPOLLRDHUP", Unix.EPOLLRDHUP);
        // The loop's events are epoll's bits, passed through unconverted.
        Check("EPOLLIN", (long)PollEvents.Readable);
        Check("EPOLLOUT", (long)PollEvents.Writable);
        Check("EPOLLERR", (long)PollEvents.Error);
        Check("EPOLLHUP", (long)PollEvents.HangUp);
        Check("EPOLL_CTL_ADD", Unix.EPOLL_CTL_ADD);
        Check("EPOLL_CTL_DEL", Unix.EPOLL_CTL_DEL);
        Check("EPOLL_CTL_MOD", Unix.EPOLL_CTL_MOD);
        Check("EPOLL_CLOEXEC", Unix.EPOLL_CLOEXEC);
        // Packed on x86_64 (12 bytes, data at 4); naturally aligned elsewhere (16, data at 8).
        Check("sizeof(struct epoll_event)", Unix.EpollEvent.Size);
        Check("offsetof(struct epoll_event, events)", 0);
        Check("offsetof(struct epoll_event, data)", Unix.EpollEvent.DataOffset);
        Check("sizeof(epoll_data_t)", sizeof(ulong));
        Check("EFD_CLOEXEC", Unix.EFD_CLOEXEC);
        Check("EFD_NONBLOCK", Unix.EFD_NONBLOCK);
        Check("sizeof(eventfd_t)", sizeof(ulong));
        Check("MSG_DONTWAIT", Unix.MSG_DONTWAIT);
        Check("MSG_NOSIGNAL", Unix.MSG_NOSIGNAL);
        Check("EAGAIN", Unix.Errno.EAGAIN);
        Check("EWOULDBLOCK", Unix.Errno.EAGAIN);
        Check("EINTR", Unix.Errno.EINTR);
    }
}
