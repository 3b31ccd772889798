using System.Collections.Concurrent;
using System.Diagnostics;
using VirtualDevices.Interop;

namespace VirtualDevices.IO.Polling;

/// <summary>
/// One thread waiting in <c>epoll_wait</c> (or <c>poll(2)</c>, see <see cref="PollBackend"/>) on many descriptors and
/// calling each one's <see cref="IPollHandler"/> when it is ready: xenstored's model. Connections then cost no thread
/// each (1,000 idle connections: still one thread), and a ready descriptor costs one wake-up of this thread, as a
/// thread blocked in its own receive would. Work from other threads (a close, a flush of output queued by another
/// thread) is handed over with <see cref="Post"/>, which wakes the loop through an eventfd (a socket pair on poll).
/// </summary>
/// <remarks>
/// Level-triggered: a handler that leaves data unread is called again, so it may read a bounded amount per call. Any
/// pollable descriptor can be registered (sockets today, Xen's <c>/dev/xen/evtchn</c> later). epoll on Linux, poll(2)
/// elsewhere (macOS); either can be asked for on Linux, where both are tested.
/// </remarks>
internal sealed unsafe partial class PollLoop : IDisposable
{
    /// <summary>Ready descriptors taken per <c>epoll_wait</c>.</summary>
    private const int MaxEvents = 64;

    /// <summary>The key of the wake-up descriptor; registrations' keys have a generation of at least 1 in their high half.</summary>
    private const ulong WakeKey = 0;

    // Epoll backend: the epoll instance and the wake-up eventfd (null on the poll backend).
    private readonly SafeFileDescriptor? _epoll;
    private readonly SafeFileDescriptor? _wake;
    private readonly Thread _thread;
    private readonly ConcurrentQueue<Action> _posted = new();
    private readonly object _slotsLock = new();
    private readonly Stack<int> _freeSlots = new();
    private PollRegistration?[] _slots = new PollRegistration?[16];
    private uint[] _generations = new uint[16];
    private int _slotCount;
    private int _wakePending;
    private volatile bool _stopping;
    private int _disposed;
    private AdaptiveSpin _spin;

    /// <summary>Creates the epoll instance (or the poll set and its wake-up pair) and starts the loop's thread.</summary>
    /// <param name="name">The thread's name.</param>
    /// <param name="backend">How to wait; null for <see cref="DefaultBackend"/>.</param>
    /// <param name="spin">
    /// The longest the loop polls without sleeping after an event, adapted to the gaps it sees (<see cref="AdaptiveSpin"/>);
    /// zero (the default) sleeps at once.
    /// </param>
    /// <exception cref="IOException">The epoll instance or the wake-up descriptors could not be created (the descriptor limit).</exception>
    /// <exception cref="PlatformNotSupportedException">epoll was asked for on another system than Linux.</exception>
    public PollLoop(string name, PollBackend? backend = null, TimeSpan spin = default)
    {
        Backend = backend ?? DefaultBackend;
        _spin = new AdaptiveSpin(spin);
        if (Backend == PollBackend.Poll)
        {
            (_wakeReader, _wakeWriter) = CreateWakePair();
            _pollSet = new PollFdSet();
            _thread = new Thread(RunPoll) { IsBackground = true, Name = name };
            _thread.Start();
            return;
        }

        if (!OperatingSystem.IsLinux())
        {
            throw new PlatformNotSupportedException("epoll only exists on Linux; the poll backend serves elsewhere.");
        }

        _epoll = Unix.EpollCreate(Unix.EPOLL_CLOEXEC);
        if (_epoll.IsInvalid)
        {
            int errno = Marshal.GetLastPInvokeError();
            _epoll.Dispose();
            throw new IOException($"epoll_create1 failed: {Unix.Errno.Describe(errno)}");
        }

        _wake = Unix.EventFd(0, Unix.EFD_CLOEXEC | Unix.EFD_NONBLOCK);
        if (_wake.IsInvalid)
        {
            int errno = Marshal.GetLastPInvokeError();
            _wake.Dispose();
            _epoll.Dispose();
            throw new IOException($"eventfd failed: {Unix.Errno.Describe(errno)}");
        }

        Control(Unix.EPOLL_CTL_ADD, _wake, (uint)PollEvents.Readable, WakeKey);
        _thread = new Thread(Run) { IsBackground = true, Name = name };
        _thread.Start();
    }

    /// <summary>The backend of a loop created without one: epoll on Linux, poll(2) elsewhere (macOS).</summary>
    public static PollBackend DefaultBackend => OperatingSystem.IsLinux() ? PollBackend.Epoll : PollBackend.Poll;

    /// <summary>How this loop waits.</summary>
    public PollBackend Backend { get; }

    /// <summary>True on the loop's own thread (where handlers and posted work run).</summary>
    public bool IsLoopThread => Environment.CurrentManagedThreadId == _thread.ManagedThreadId;

    /// <summary>The number of registered descriptors.</summary>
    public int Count
    {
        get
        {
            lock (_slotsLock)
            {
                return _slotCount - _freeSlots.Count;
            }
        }
    }

    /// <summary>Adds <paramref name="descriptor"/> to the loop; <paramref name="handler"/> is called on the loop's thread when it is ready.</summary>
    /// <param name="descriptor">An open descriptor; the caller closes it after <see cref="PollRegistration.Remove"/>.</param>
    /// <param name="interest">The events to wait for (errors and hang-ups are always reported).</param>
    /// <param name="handler">What to call.</param>
    /// <exception cref="ObjectDisposedException">The loop was stopped.</exception>
    /// <exception cref="IOException">
    /// epoll refused the descriptor (it cannot be polled, as a regular file cannot). The poll backend refuses nothing:
    /// poll(2) reports a regular file always ready.
    /// </exception>
    public PollRegistration Register(SafeHandle descriptor, PollEvents interest, IPollHandler handler)
    {
        ArgumentNullException.ThrowIfNull(descriptor);
        ArgumentNullException.ThrowIfNull(handler);
        PollRegistration registration;
        int slot;
        lock (_slotsLock)
        {
            ObjectDisposedException.ThrowIf(_stopping, this);
            if (!_freeSlots.TryPop(out slot))
            {
                slot = _slotCount++;
                if (slot == _slots.Length)
                {
                    // A copy the loop thread may still be reading from is fine: slots it can see are never moved.
                    Array.Resize(ref _generations, _slots.Length * 2);
                    PollRegistration?[] grown = new PollRegistration?[_slots.Length * 2];
                    _slots.CopyTo(grown, 0);
                    Volatile.Write(ref _slots, grown);
                }
            }

            uint generation = ++_generations[slot];
            if (generation == 0)
            {
                generation = _generations[slot] = 1;
            }

            registration = new PollRegistration(this, descriptor, handler, ((ulong)generation << 32) | (uint)slot, interest);
            _slots[slot] = registration;
        }

        handler.OnRegistered(registration);
        if (_pollSet is not null)
        {
            PollSetChanged();
            return registration;
        }

        try
        {
            Control(Unix.EPOLL_CTL_ADD, descriptor, (uint)interest, registration.Key);
        }
        catch
        {
            Release(registration);
            throw;
        }

        return registration;
    }

    /// <summary>Called by <see cref="PollRegistration.Modify"/> after it recorded the new interest.</summary>
    internal void Modify(PollRegistration registration, PollEvents interest)
    {
        if (_pollSet is not null)
        {
            ModifyPoll(registration, interest);
            return;
        }

        try
        {
            Control(Unix.EPOLL_CTL_MOD, registration.Descriptor, (uint)interest, registration.Key);
        }
        catch (IOException) when (registration.IsRemoved)
        {
            // Removed from another thread between the caller's check and this call (epoll says ENOENT, or EBADF once
            // the descriptor is closed): there is nothing left to change. A CI run crashed on this race.
        }
    }

    internal void Remove(PollRegistration registration)
    {
        if (_pollSet is not null)
        {
            // Its entry leaves the array when the loop rebuilds it, before its next wait; an event already reported
            // for it meanwhile is recognised as stale by its key.
            Release(registration);
            PollSetChanged();
            return;
        }

        if (!registration.Descriptor.IsClosed && !_epoll!.IsClosed)
        {
            // Fails only if the descriptor is no longer registered; the slot is freed either way.
            _ = Unix.EpollCtl(_epoll, Unix.EPOLL_CTL_DEL, registration.Descriptor, null);
        }

        Release(registration);
    }

    private void Release(PollRegistration registration)
    {
        lock (_slotsLock)
        {
            int slot = (int)(uint)registration.Key;
            if (ReferenceEquals(_slots[slot], registration))
            {
                _slots[slot] = null;
                _freeSlots.Push(slot);
            }
        }
    }

    private void Control(int op, SafeHandle descriptor, uint events, ulong key)
    {
        byte* entry = stackalloc byte[16];
        Unix.EpollEvent.Write(entry, events, key);
        if (Unix.EpollCtl(_epoll!, op, descriptor, entry) != 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            throw new IOException($"epoll_ctl failed: {Unix.Errno.Describe(errno)}");
        }
    }

    /// <summary>
    /// Runs <paramref name="work"/> on the loop's thread, after the descriptors ready now have been handled (in the
    /// order posted). Wakes the loop when called from another thread. The work must not block nor throw. After
    /// <see cref="Dispose"/>, posted work never runs (what it would act on has been stopped with the loop).
    /// </summary>
    public void Post(Action work)
    {
        _posted.Enqueue(work);
        if (!IsLoopThread && Interlocked.Exchange(ref _wakePending, 1) == 0)
        {
            Wake();
        }
    }

    private void Wake()
    {
        if (_pollSet is not null)
        {
            WakePoll();
            return;
        }

        ulong one = 1;
        try
        {
            // EAGAIN only when the counter is about to overflow, which means the loop is awake already.
            _ = Unix.Write(_wake!, (byte*)&one, sizeof(ulong));
        }
        catch (ObjectDisposedException)
        {
            // The loop has stopped and closed its eventfd: there is no one left to wake.
        }
    }

    private void Run()
    {
        byte* events = (byte*)NativeMemory.Alloc((nuint)(MaxEvents * Unix.EpollEvent.Size));
        try
        {
            while (!_stopping)
            {
                int ready = Wait(events, null);
                if (ready < 0)
                {
                    int errno = Marshal.GetLastPInvokeError();
                    if (errno == Unix.Errno.EINTR)
                    {
                        continue;
                    }

                    throw new IOException($"epoll_wait failed: {Unix.Errno.Describe(errno)}");
                }

                for (int i = 0; i < ready; i++)
                {
                    byte* entry = events + (i * Unix.EpollEvent.Size);
                    ulong key = Unix.EpollEvent.Data(entry);
                    if (key == WakeKey)
                    {
                        ulong counter;
                        _ = Unix.Read(_wake!, (byte*)&counter, sizeof(ulong));
                        // Cleared before the queue is drained below: a Post after this wakes the loop again.
                        Volatile.Write(ref _wakePending, 0);
                        continue;
                    }

                    PollRegistration? registration = Volatile.Read(ref _slots)[(int)(uint)key];
                    if (registration is null || registration.Key != key || registration.IsRemoved)
                    {
                        // Removed by an earlier handler of this batch (its slot maybe reused): a stale event.
                        continue;
                    }

                    registration.Handler.OnPollEvents((PollEvents)Unix.EpollEvent.Events(entry));
                }

                RunPosted();
            }

            RunPosted();
        }
        finally
        {
            NativeMemory.Free(events);
        }
    }

    /// <summary>Waits for ready descriptors: polls (timeout 0) for the spin's window, then blocks.</summary>
    private int Wait(byte* events, PollFdSet? set)
    {
        if (_spin.Max == 0)
        {
            return WaitOnce(events, set, -1);
        }

        long started = Stopwatch.GetTimestamp();
        long window = _spin.Window;
        int ready = 0;
        bool caught = false;
        if (window > 0)
        {
            long until = started + window;
            do
            {
                ready = WaitOnce(events, set, 0);
            }
            while (ready == 0 && Stopwatch.GetTimestamp() < until);
            caught = ready > 0;
        }

        if (ready == 0)
        {
            ready = WaitOnce(events, set, -1);
        }

        if (ready > 0)
        {
            _spin.Record(Stopwatch.GetTimestamp() - started, caught);
        }

        return ready;
    }

    private int WaitOnce(byte* events, PollFdSet? set, int timeout) =>
        set is null ? Unix.EpollWait(_epoll!, events, MaxEvents, timeout) : Unix.Poll(set.Fds, (nuint)set.Count, timeout);

    private void RunPosted()
    {
        while (_posted.TryDequeue(out Action? work))
        {
            work();
        }
    }

    /// <summary>
    /// Stops the loop after the work already posted, waits up to 5 s for its thread (unless called on it), and closes
    /// the epoll instance (or the poll set and its wake-up pair). Registered descriptors are not closed: their owners
    /// do that. Idempotent.
    /// </summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        lock (_slotsLock)
        {
            _stopping = true;
        }

        Wake();
        if (!IsLoopThread && _thread.Join(TimeSpan.FromSeconds(5)))
        {
            _wake?.Dispose();
            _epoll?.Dispose();
            _wakeReader?.Dispose();
            _wakeWriter?.Dispose();
            _pollSet?.Dispose();
        }

        // Otherwise (on the loop's thread, or a handler that blocked) the descriptors stay open for the thread still
        // using them: a closed, reused descriptor number would be worse than two descriptors leaked.
    }
}
