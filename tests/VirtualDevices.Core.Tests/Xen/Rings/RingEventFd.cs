using System.Runtime.InteropServices;
using VirtualDevices.Interop;

namespace VirtualDevices.Tests.Xen.Rings;

/// <summary>
/// An eventfd as a ring's notification line in the tests (an event channel stands in for it on Xen): inherited by a
/// child (no CLOEXEC), which gets its number on the command line. Waits are bounded so a lost wake-up fails the test.
/// </summary>
internal sealed unsafe class RingEventFd : IDisposable
{
    private readonly SafeFileDescriptor _fd;

    public RingEventFd()
    {
        _fd = Unix.EventFd(0, 0);
        if (_fd.IsInvalid)
        {
            throw new InvalidOperationException($"eventfd failed: errno {Marshal.GetLastPInvokeError()}");
        }
    }

    public int Fd => _fd.Fd;

    /// <summary>Notifications sent through this line.</summary>
    public long Notifications { get; private set; }

    /// <summary>Sleeps taken on this line.</summary>
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

    public void Wait(int timeoutMilliseconds = 10_000)
    {
        Waits++;
        var poll = new Unix.PollFd { Fd = _fd.Fd, Events = Unix.POLLIN };
        int ready;
        do
        {
            ready = Unix.Poll(&poll, 1, timeoutMilliseconds);
        }
        while (ready < 0 && Marshal.GetLastPInvokeError() == Unix.Errno.EINTR);
        if (ready == 0)
        {
            throw new TimeoutException($"No notification within {timeoutMilliseconds} ms: a wake-up was lost.");
        }

        ulong value;
        if (Unix.Read(_fd, (byte*)&value, sizeof(ulong)) != sizeof(ulong))
        {
            throw new InvalidOperationException($"eventfd read failed: errno {Marshal.GetLastPInvokeError()}");
        }
    }

    public void Dispose() => _fd.Dispose();
}
