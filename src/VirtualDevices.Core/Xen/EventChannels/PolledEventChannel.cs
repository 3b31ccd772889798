using System.Diagnostics;
using System.Runtime.CompilerServices;
using VirtualDevices.Interop;
using VirtualDevices.IO.Polling;

namespace VirtualDevices.Xen.EventChannels;

/// <summary>
/// What the real-Xen and the loopback event channels share: a pollable descriptor that is readable while events are
/// pending, a brief spin before blocking, the blocking wait (poll on the descriptor and a wake-up eventfd), the async
/// wait (one registration on a shared poll loop per wait, so no thread is held), and the closed state.
/// </summary>
/// <remarks>
/// Coalescing is the subclass's: <see cref="TryConsume"/> takes every event pending at once (an eventfd's counter,
/// the evtchn driver's one masked entry per port), so the number of wake-ups follows the waiter's pace, never the
/// sender's.
/// </remarks>
internal abstract class PolledEventChannel : IEventChannel, IPollHandler
{
    /// <summary>
    /// The spin before blocking: 20 µs, about what waking an idle core costs on the 2-vCPU machines we measure
    /// (machine-facts.md): a peer that answers within it is seen without that cost; a longer spin would burn a core
    /// shared with the peer. No spin on one core, where it only delays the peer.
    /// </summary>
    private static readonly long SpinTicks = Stopwatch.Frequency / 50_000;

    private static readonly Lazy<PollLoop> AsyncLoop = new(() => new PollLoop("xen-event-waits"), LazyThreadSafetyMode.ExecutionAndPublication);

    private readonly SafeFileDescriptor _wake;
    private int _waiting;

    // 0 open, 1 closed here (disposed), 2 closed by the other end or the platform.
    private int _state;
    private TaskCompletionSource? _asyncWait;
    private PollRegistration? _registration;
    private int _disposed;

    private protected PolledEventChannel(uint port, ushort remoteDomain)
    {
        Port = port;
        RemoteDomain = remoteDomain;
        _wake = Unix.EventFd(0, Unix.EFD_CLOEXEC | Unix.EFD_NONBLOCK);
        if (_wake.IsInvalid)
        {
            int errno = Marshal.GetLastPInvokeError();
            _wake.Dispose();
            throw new XenDeviceException(DeviceErrorIds.Xen.OpenFailed, "eventfd", errno, "The wake-up descriptor of an event channel could not be created");
        }
    }

    /// <inheritdoc/>
    public uint Port { get; }

    /// <inheritdoc/>
    public ushort RemoteDomain { get; }

    /// <summary>True once the channel was closed, here or at the other end.</summary>
    public bool IsClosed => Volatile.Read(ref _state) != 0;

    /// <summary>The descriptor that is readable while events are pending.</summary>
    private protected abstract SafeFileDescriptor Descriptor { get; }

    /// <summary>
    /// The descriptor that is readable while events are pending, for a poll loop that serves many channels itself
    /// (the embedded xenstore server's rings); such a loop takes the events with <see cref="TakePending"/>.
    /// </summary>
    internal SafeFileDescriptor PollDescriptor => Descriptor;

    /// <summary>Takes the events pending now without spinning or blocking (for a poll loop's handler).</summary>
    /// <returns>How many (0 when none).</returns>
    internal int TakePending() => TryConsume();

    /// <summary>What names the channel in errors (the device node, or the hypervisor's socket).</summary>
    private protected abstract string Source { get; }

    /// <inheritdoc/>
    public abstract void Notify();

    /// <inheritdoc/>
    public int Wait(int timeoutMilliseconds, CancellationToken cancellationToken = default) => Wait(timeoutMilliseconds, spin: true, cancellationToken);

    /// <inheritdoc/>
    public int WaitBlocking(int timeoutMilliseconds, CancellationToken cancellationToken = default) => Wait(timeoutMilliseconds, spin: false, cancellationToken);

    private int Wait(int timeoutMilliseconds, bool spin, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(timeoutMilliseconds, Timeout.Infinite);
        EnterWait();
        bool fdReferenced = false;
        bool wakeReferenced = false;
        CancellationTokenRegistration registration = default;
        try
        {
            if (spin)
            {
                int events = Spin();
                if (events > 0)
                {
                    return events;
                }
            }

            SafeFileDescriptor descriptor = Descriptor;
            descriptor.DangerousAddRef(ref fdReferenced);
            _wake.DangerousAddRef(ref wakeReferenced);
            if (cancellationToken.CanBeCanceled)
            {
                registration = cancellationToken.UnsafeRegister(static state => ((PolledEventChannel)state!).Wake(), this);
            }

            long deadline = timeoutMilliseconds == Timeout.Infinite ? long.MaxValue : Environment.TickCount64 + timeoutMilliseconds;
            return WaitBlocking(descriptor, deadline, pollFirst: !spin, cancellationToken);
        }
        finally
        {
            registration.Dispose();
            if (wakeReferenced)
            {
                _wake.DangerousRelease();
            }

            if (fdReferenced)
            {
                Descriptor.DangerousRelease();
            }

            Volatile.Write(ref _waiting, 0);
        }
    }

    /// <inheritdoc/>
    public async ValueTask<int> WaitAsync(CancellationToken cancellationToken = default)
    {
        EnterWait();
        try
        {
            int events = Spin();
            if (events > 0)
            {
                return events;
            }

            while (true)
            {
                cancellationToken.ThrowIfCancellationRequested();
                var readable = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                Volatile.Write(ref _asyncWait, readable);

                // One registration per wait, removed by the loop when it fires: the loop never sees a level-triggered
                // descriptor that nobody waits for (it would call us again and again).
                PollRegistration registration = AsyncLoop.Value.Register(Descriptor, PollEvents.Readable, this);
                if (IsClosed)
                {
                    readable.TrySetResult();
                }

                try
                {
                    await readable.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
                }
                finally
                {
                    registration.Remove();
                    Volatile.Write(ref _registration, null);
                    Volatile.Write(ref _asyncWait, null);
                }

                events = TryConsumeOrThrow();
                if (events > 0)
                {
                    return events;
                }
            }
        }
        finally
        {
            Volatile.Write(ref _waiting, 0);
        }
    }

    /// <inheritdoc/>
    public async IAsyncEnumerable<int> ReadAllAsync([EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        while (Volatile.Read(ref _state) != 1)
        {
            int events;
            try
            {
                events = await WaitAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (ObjectDisposedException)
            {
                yield break; // closed here: the stream ends
            }

            yield return events;
        }
    }

    /// <summary>Unbinds the port (once); a thread waiting on it is woken with <see cref="ObjectDisposedException"/>.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        Volatile.Write(ref _state, 1);
        Wake();
        Volatile.Read(ref _registration)?.Remove();
        Volatile.Read(ref _asyncWait)?.TrySetResult();
        Close();
        _wake.Dispose();
    }

    /// <summary>Keeps the registration before the loop can fire it, so that the first event removes it (no second call).</summary>
    void IPollHandler.OnRegistered(PollRegistration registration) => Volatile.Write(ref _registration, registration);

    /// <summary>Called on the poll loop's thread: the descriptor is readable (or failed); the waiter looks.</summary>
    void IPollHandler.OnPollEvents(PollEvents events)
    {
        Volatile.Read(ref _registration)?.Remove();
        Volatile.Read(ref _asyncWait)?.TrySetResult();
    }

    /// <summary>Takes every event pending now, without blocking.</summary>
    /// <returns>How many (at least 1 when any; 1 where the platform does not count); 0 when none.</returns>
    private protected abstract int TryConsume();

    /// <summary>Releases the platform's part: unbinds the port, closes its descriptors.</summary>
    private protected abstract void Close();

    /// <summary>Marks the channel closed by the other end (or the platform); waiters wake with <see cref="DeviceErrorIds.Xen.EventChannelClosed"/>.</summary>
    private protected void MarkClosedByPeer()
    {
        if (Interlocked.CompareExchange(ref _state, 2, 0) == 0)
        {
            Wake();
            Volatile.Read(ref _asyncWait)?.TrySetResult();
        }
    }

    /// <summary>The error for a use after the other end closed.</summary>
    private protected XenDeviceException ClosedError() => new(DeviceErrorIds.Xen.EventChannelClosed, Source, 0,
        $"Event channel port {Port} was closed by its other end (domain {RemoteDomain}) or by the hypervisor");

    /// <summary>Throws when the channel is closed: disposed here, or closed by the other end.</summary>
    private protected void ThrowIfClosed()
    {
        int state = Volatile.Read(ref _state);
        ObjectDisposedException.ThrowIf(state == 1, this);
        if (state == 2)
        {
            throw ClosedError();
        }
    }

    private void EnterWait()
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _state) == 1, this);
        if (Interlocked.Exchange(ref _waiting, 1) != 0)
        {
            throw new InvalidOperationException("Another thread is waiting on this event channel.");
        }
    }

    /// <summary>Events pending now; when the channel is closed and none are left, the typed error.</summary>
    private int TryConsumeOrThrow()
    {
        if (Volatile.Read(ref _state) == 1)
        {
            throw new ObjectDisposedException(GetType().Name);
        }

        int events = TryConsume();
        if (events > 0)
        {
            return events;
        }

        ThrowIfClosed();
        return 0;
    }

    private int Spin()
    {
        int events = TryConsumeOrThrow();
        if (events > 0 || Environment.ProcessorCount < 2)
        {
            return events;
        }

        long end = Stopwatch.GetTimestamp() + SpinTicks;
        do
        {
            Thread.SpinWait(20);
            events = TryConsumeOrThrow();
            if (events > 0)
            {
                return events;
            }
        }
        while (Stopwatch.GetTimestamp() < end);
        return 0;
    }

    private int WaitBlocking(SafeFileDescriptor descriptor, long deadline, bool pollFirst, CancellationToken cancellationToken)
    {
        // Without the spin the caller has just looked at its ring: poll first, as C's ring waits do (poll, then read).
        // An event pending makes the poll return at once, so a read before it would be one system call more per
        // sleep (3 instead of 2); a closed channel still looks first, since its wake may have been drained already.
        bool look = !pollFirst || Volatile.Read(ref _state) != 0;
        while (true)
        {
            if (look)
            {
                int events = TryConsumeOrThrow();
                if (events > 0)
                {
                    return events;
                }
            }

            look = true;

            // A wake is cancellation or a close: the top of the loop says which.
            cancellationToken.ThrowIfCancellationRequested();
            if (!WakeablePoll.Wait(descriptor, _wake, deadline, Source, "Waiting for an event channel failed"))
            {
                return TryConsumeOrThrow(); // the time ran out; an event that came at the last moment still counts
            }
        }
    }

    private unsafe void Wake()
    {
        ulong one = 1;
        try
        {
            _ = Unix.Write(_wake, (byte*)&one, sizeof(ulong));
        }
        catch (ObjectDisposedException)
        {
            // Already closed: nobody can be waiting on it.
        }
    }
}
