using System.Runtime.InteropServices;
using VirtualDevices.Interop;

namespace VirtualDevices.Benchmarks.Ring;

/// <summary>
/// An eventfd as the ring's notification line between the two benchmark processes (an event channel on Xen): made
/// without CLOEXEC so the child inherits it, or adopted from the number the parent passed.
/// </summary>
internal sealed unsafe class BenchEventFd : IDisposable
{
    private readonly SafeFileDescriptor _fd;

    public BenchEventFd()
    {
        _fd = Unix.EventFd(0, 0);
        if (_fd.IsInvalid)
        {
            throw new InvalidOperationException($"eventfd failed: errno {Marshal.GetLastPInvokeError()}");
        }
    }

    public BenchEventFd(int inherited)
    {
        _fd = new SafeFileDescriptor(inherited, ownsHandle: true);
    }

    public int Fd => _fd.Fd;

    public long Notifications { get; private set; }

    public long Waits { get; private set; }

    public void Notify()
    {
        ulong one = 1;
        if (Unix.Write(_fd, (byte*)&one, sizeof(ulong)) != sizeof(ulong))
        {
            throw new InvalidOperationException($"eventfd write failed: errno {Marshal.GetLastPInvokeError()}");
        }

        Notifications++;
    }

    /// <summary>Sleeps until notified (poll, then read: as ring-bench.c), at most 10 s.</summary>
    public void Wait()
    {
        Waits++;
        var poll = new Unix.PollFd { Fd = _fd.Fd, Events = Unix.POLLIN };
        int ready;
        do
        {
            ready = Unix.Poll(&poll, 1, 10_000);
        }
        while (ready < 0 && Marshal.GetLastPInvokeError() == Unix.Errno.EINTR);
        if (ready == 0)
        {
            throw new TimeoutException("ring-echo: no notification within 10 s");
        }

        ulong value;
        if (Unix.Read(_fd, (byte*)&value, sizeof(ulong)) != sizeof(ulong))
        {
            throw new InvalidOperationException($"eventfd read failed: errno {Marshal.GetLastPInvokeError()}");
        }
    }

    public void Dispose() => _fd.Dispose();
}
