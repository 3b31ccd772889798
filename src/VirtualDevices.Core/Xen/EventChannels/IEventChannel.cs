namespace VirtualDevices.Xen.EventChannels;

/// <summary>
/// One bound event channel port: notify the other end, and wait for its events. Events coalesce: however many
/// arrive between two waits, the next wait returns once, so a storm of events costs the waiter one wake-up per wait,
/// never a spinning core. An event means "look at the shared ring", never a count of anything.
/// </summary>
/// <remarks>
/// A wait spins briefly (about the 20 µs that waking an idle core costs) before it blocks, so that a peer answering
/// at once is seen without a wake-up. One thread waits at a time. Disposing unbinds the port: the other end's waits
/// end with <see cref="DeviceErrorIds.Xen.EventChannelClosed"/> where the platform says so (the loopback hypervisor;
/// real Xen tells nobody, the xenbus state does).
/// </remarks>
public interface IEventChannel : IDisposable
{
    /// <summary>The local port.</summary>
    uint Port { get; }

    /// <summary>The domain at the other end.</summary>
    ushort RemoteDomain { get; }

    /// <summary>Sends an event to the other end; when it is not bound yet, the event waits for its bind.</summary>
    /// <exception cref="DeviceException"><see cref="DeviceErrorIds.Xen.EventChannelClosed"/>: the channel was closed.</exception>
    void Notify();

    /// <summary>Waits for events on the calling thread.</summary>
    /// <param name="timeoutMilliseconds">How long; <see cref="Timeout.Infinite"/> for no limit.</param>
    /// <param name="cancellationToken">Ends the wait early.</param>
    /// <returns>How many events coalesced into this wake-up (at least 1; 1 where the platform does not count), or 0 at the timeout.</returns>
    /// <exception cref="DeviceException"><see cref="DeviceErrorIds.Xen.EventChannelClosed"/>: the channel or its other end was closed.</exception>
    /// <exception cref="OperationCanceledException">The token was cancelled.</exception>
    int Wait(int timeoutMilliseconds, CancellationToken cancellationToken = default);

    /// <summary>
    /// Waits for events on the calling thread without the brief spin: for a caller that has just spun on its shared
    /// memory (a ring's final check, then its indices polled), where a second spin on the channel would only add
    /// system calls (a read of the channel per turn) and delay the sleep. An event pending returns at once.
    /// </summary>
    /// <param name="timeoutMilliseconds">How long; <see cref="Timeout.Infinite"/> for no limit.</param>
    /// <param name="cancellationToken">Ends the wait early.</param>
    /// <returns>How many events coalesced into this wake-up (at least 1; 1 where the platform does not count), or 0 at the timeout.</returns>
    /// <exception cref="DeviceException"><see cref="DeviceErrorIds.Xen.EventChannelClosed"/>: the channel or its other end was closed.</exception>
    /// <exception cref="OperationCanceledException">The token was cancelled.</exception>
    int WaitBlocking(int timeoutMilliseconds, CancellationToken cancellationToken = default);

    /// <summary>Waits for events without holding a thread once the brief spin is over.</summary>
    /// <param name="cancellationToken">Ends the wait.</param>
    /// <returns>How many events coalesced (at least 1).</returns>
    /// <exception cref="DeviceException"><see cref="DeviceErrorIds.Xen.EventChannelClosed"/>: the channel or its other end was closed.</exception>
    ValueTask<int> WaitAsync(CancellationToken cancellationToken = default);

    /// <summary>The events as an async stream: one item (the coalesced count) per wake-up, until the channel closes or the token ends it.</summary>
    /// <param name="cancellationToken">Ends the stream.</param>
    IAsyncEnumerable<int> ReadAllAsync(CancellationToken cancellationToken = default);
}
