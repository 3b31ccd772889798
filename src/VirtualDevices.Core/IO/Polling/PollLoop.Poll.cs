using VirtualDevices.Interop;

namespace VirtualDevices.IO.Polling;

/// <summary>
/// The <see cref="PollBackend.Poll"/> backend: <c>poll(2)</c> on an array that only the loop's thread touches. A
/// registration or removal marks it stale and the loop rebuilds it before its next wait; a change of interest on the
/// loop's thread (a connection pausing or resuming itself) is written into the array in place.
/// </summary>
internal sealed unsafe partial class PollLoop
{
    /// <summary>What poll reports, in the loop's terms: the POLL* bits equal epoll's (and <see cref="PollEvents"/>).</summary>
    private const PollEvents Reported = PollEvents.Readable | PollEvents.Writable | PollEvents.Error | PollEvents.HangUp;

    /// <summary>Wake-up bytes read per receive; the loop drains them all before waiting again.</summary>
    private const int WakeDrainSize = 64;

    // Poll backend: the array, and the socket pair whose first end is its entry 0 (null on the epoll backend).
    private readonly PollFdSet? _pollSet;
    private readonly SafeFileDescriptor? _wakeReader;
    private readonly SafeFileDescriptor? _wakeWriter;

    /// <summary>1 when registrations changed since the array was last built; the loop rebuilds it before waiting.</summary>
    private int _pollSetDirty = 1;

    /// <summary>
    /// A connected unix socket pair: one byte sent to the second end wakes the loop waiting on the first. eventfd is
    /// Linux's only; a pipe would need fcntl to be made close-on-exec, and fcntl is variadic, which a P/Invoke cannot
    /// call correctly on Apple arm64. Both ends stay blocking: every call on them says <c>MSG_DONTWAIT</c>.
    /// </summary>
    /// <remarks>Close-on-exec on Linux (SOCK_CLOEXEC); macOS has no such flag, so there a child process inherits it.</remarks>
    private static (SafeFileDescriptor Reader, SafeFileDescriptor Writer) CreateWakePair()
    {
        int* fds = stackalloc int[2];
        if (Unix.SocketPair(Unix.AF_UNIX, Unix.SOCK_STREAM | Unix.SOCK_CLOEXEC, 0, fds) != 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            throw new IOException($"socketpair failed: {Unix.Errno.Describe(errno)}");
        }

        return (new SafeFileDescriptor(fds[0], ownsHandle: true), new SafeFileDescriptor(fds[1], ownsHandle: true));
    }

    /// <summary>Marks the array stale and, from another thread, wakes the loop so it rebuilds it before waiting again.</summary>
    private void PollSetChanged()
    {
        // The flag is set before the wake-up is claimed; the loop clears its claim before it reads the flag: so either
        // this thread sends a wake-up, or the loop (still awake from the one it is handling) sees the flag.
        Volatile.Write(ref _pollSetDirty, 1);
        if (!IsLoopThread && Interlocked.Exchange(ref _wakePending, 1) == 0)
        {
            WakePoll();
        }
    }

    /// <summary>A change of interest: in place on the loop's thread while the entry is current; otherwise a rebuild.</summary>
    private void ModifyPoll(PollRegistration registration, PollEvents interest)
    {
        PollFdSet set = _pollSet!;
        int index = registration.PollIndex;
        if (IsLoopThread && index > 0 && index < set.Count && set.Keys[index] == registration.Key)
        {
            // Read by the next poll(2) of this same thread.
            set.Fds[index].Events = (short)(interest & (PollEvents.Readable | PollEvents.Writable));
            return;
        }

        PollSetChanged();
    }

    private void WakePoll()
    {
        byte one = 1;
        try
        {
            // EAGAIN only when the pair's buffer is full, which means the loop has wake-ups to read already.
            _ = Unix.Send(_wakeWriter!, &one, 1, Unix.MSG_DONTWAIT | Unix.MSG_NOSIGNAL);
        }
        catch (ObjectDisposedException)
        {
            // The loop has stopped and closed its pair: there is no one left to wake.
        }
    }

    private void RunPoll()
    {
        PollFdSet set = _pollSet!;
        byte* drain = stackalloc byte[WakeDrainSize];
        while (!_stopping)
        {
            if (Interlocked.Exchange(ref _pollSetDirty, 0) != 0)
            {
                Rebuild(set);
            }

            int ready = Wait(null, set);
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
                while (Unix.Recv(_wakeReader!, drain, WakeDrainSize, Unix.MSG_DONTWAIT) == WakeDrainSize)
                {
                }

                // Cleared before the queue is drained and the array rebuilt: a Post or change after this wakes again.
                Volatile.Write(ref _wakePending, 0);
            }

            int count = set.Count;
            for (int i = 1; i < count; i++)
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
                    // once forever, so it leaves the array (a negative fd is skipped) and its handler hears a hang-up.
                    fds[i].Fd = -1;
                    events |= PollEvents.Error | PollEvents.HangUp;
                }

                registration.Handler.OnPollEvents(events);
            }

            RunPosted();
        }

        RunPosted();
    }

    /// <summary>The wake-up socket first, then every live registration with its current interest (loop thread).</summary>
    private void Rebuild(PollFdSet set)
    {
        lock (_slotsLock)
        {
            set.EnsureCapacity(1 + _slotCount);
            Unix.PollFd* fds = set.Fds;
            fds[0] = new Unix.PollFd { Fd = (int)_wakeReader!.DangerousGetHandle(), Events = Unix.POLLIN };
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
                registration.PollIndex = count;
                count++;
            }

            set.Count = count;
        }
    }
}
