using System.Net.Sockets;
using VirtualDevices.Interop;

namespace VirtualDevices.IO.Polling;

/// <summary>The <see cref="PollBackend.Poll"/> backend: <c>poll(2)</c> on an array rebuilt after registrations change.</summary>
internal sealed unsafe partial class PollLoop
{
    /// <summary>What poll reports, in the loop's terms; the POLL* bits equal epoll's (and PollEvents') on Linux and macOS.</summary>
    private const PollEvents Reported = PollEvents.Readable | PollEvents.Writable | PollEvents.Error | PollEvents.HangUp;

    /// <summary>The longest poll(2) waits; see the comment where it is used.</summary>
    private const int SafetyNetMilliseconds = 1000;

    /// <summary>1 when registrations changed since the array was last built; the loop rebuilds it before waiting.</summary>
    private int _pollSetDirty = 1;

    /// <summary>
    /// A connected, non-blocking unix socket pair: one byte written to the second wakes the loop waiting on the first.
    /// eventfd is Linux-only; a pipe would need fcntl to become non-blocking and close-on-exec, and fcntl is variadic,
    /// which a P/Invoke cannot call correctly on Apple arm64 (variadic arguments go on the stack there), whereas
    /// <see cref="Socket.Blocking"/> goes through .NET's own native shim.
    /// </summary>
    /// <remarks>On Linux the pair is close-on-exec (SOCK_CLOEXEC); macOS has no such flag, so there children inherit it.</remarks>
    private static (Socket Reader, Socket Writer) CreateWakePair()
    {
        int* fds = stackalloc int[2];
        if (Unix.SocketPair(Unix.AF_UNIX, Unix.SOCK_STREAM | Unix.SOCK_CLOEXEC, 0, fds) != 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            throw new IOException($"socketpair failed: {Unix.Errno.Describe(errno)}");
        }

        var reader = new Socket(new SafeSocketHandle(fds[0], ownsHandle: true));
        var writer = new Socket(new SafeSocketHandle(fds[1], ownsHandle: true));
        reader.Blocking = false;
        writer.Blocking = false;
        return (reader, writer);
    }

    /// <summary>Marks the array stale and, from another thread, wakes the loop so it rebuilds it before waiting again.</summary>
    private void PollSetChanged()
    {
        Volatile.Write(ref _pollSetDirty, 1);
        if (!IsLoopThread && Interlocked.Exchange(ref _wakePending, 1) == 0)
        {
            WakePoll();
        }
    }

    private void WakePoll()
    {
        byte one = 1;
        try
        {
            // WouldBlock only when the pair's buffer is full, which means the loop has a wake-up to read already.
            _ = _wakeWriter!.Send(new ReadOnlySpan<byte>(&one, 1), SocketFlags.None, out SocketError _);
        }
        catch (ObjectDisposedException)
        {
            // The loop has stopped and closed its pair: there is no one left to wake.
        }
    }

    private void RunPoll()
    {
        PollFdSet set = _pollSet!;
        Span<byte> drain = stackalloc byte[64];
        while (!_stopping)
        {
            if (Interlocked.Exchange(ref _pollSetDirty, 0) != 0)
            {
                Rebuild(set);
            }

            // A bounded wait, as a safety net: with an unbounded one, the xenstore storm test hung about one run in
            // four on this backend (a readiness or wake-up missed somewhere, not found yet); with 200 ms it passed 4/4.
            // An idle loop thus wakes once a second (a few microseconds each); remove once the cause is found.
            int ready = Unix.Poll(set.Fds, (nuint)set.Count, SafetyNetMilliseconds);
            if (ready < 0)
            {
                int errno = Marshal.GetLastPInvokeError();
                if (errno == Unix.Errno.EINTR)
                {
                    continue;
                }

                throw new IOException($"poll failed: {Unix.Errno.Describe(errno)}");
            }

            Unix.PollFd* fds = set.Fds;
            if (fds[0].ReturnedEvents != 0)
            {
                // 64 bytes at a time until the pair is empty (WouldBlock reads 0).
                while (_wakeReader!.Receive(drain, SocketFlags.None, out SocketError _) == drain.Length)
                {
                }

                // Cleared before the queue is drained and the array rebuilt: a Post or change after this wakes again.
                Volatile.Write(ref _wakePending, 0);
            }

            for (int i = 1; i < set.Count; i++)
            {
                short returned = fds[i].ReturnedEvents;
                if (returned == 0)
                {
                    continue;
                }

                ulong key = set.Keys[i];
                PollRegistration? registration = Volatile.Read(ref _slots)[(int)(uint)key];
                if (registration is null || registration.Key != key || registration.IsRemoved)
                {
                    // Removed since the array was built (by a handler of this batch or another thread): stale.
                    continue;
                }

                PollEvents events = (PollEvents)(ushort)returned & Reported;
                if ((returned & Unix.POLLNVAL) != 0)
                {
                    // Closed without being removed. epoll silently forgets such a descriptor; poll would report it at
                    // once forever, so it leaves this array (a negative fd is skipped) and its handler hears a hang-up.
                    fds[i].Fd = -1;
                    events |= PollEvents.Error | PollEvents.HangUp;
                }

                registration.Handler.OnPollEvents(events);
            }

            RunPosted();
        }

        RunPosted();
    }

    /// <summary>The wake-up socket first, then every live registration with its current interest.</summary>
    private void Rebuild(PollFdSet set)
    {
        lock (_slotsLock)
        {
            set.EnsureCapacity(1 + _slotCount);
            Unix.PollFd* fds = set.Fds;
            fds[0] = new Unix.PollFd { Fd = (int)_wakeReader!.SafeHandle.DangerousGetHandle(), Events = Unix.POLLIN };
            set.Keys[0] = WakeKey;
            int count = 1;
            for (int slot = 0; slot < _slotCount; slot++)
            {
                PollRegistration? registration = _slots[slot];
                if (registration is null || registration.IsRemoved || registration.Descriptor.IsClosed)
                {
                    continue;
                }

                // Errors and hang-ups need no asking (as with epoll): poll reports them whatever the events.
                fds[count] = new Unix.PollFd
                {
                    Fd = (int)registration.Descriptor.DangerousGetHandle(),
                    Events = (short)(registration.Interest & (PollEvents.Readable | PollEvents.Writable)),
                };
                set.Keys[count] = registration.Key;
                count++;
            }

            set.Count = count;
        }
    }
}
