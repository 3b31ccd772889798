namespace VirtualDevices.Xen.Xenstore;

/// <summary>
/// A byte stream to xenstored carrying the wire protocol: a unix socket or the xenbus character device. Calls are
/// blocking: the client reads on a dedicated thread, woken by the kernel straight from the blocking call, which is
/// one wake-up per reply instead of the two an async receive costs (socket engine, then thread pool). Sends are
/// single messages of at most 4112 bytes, which the kernel takes without blocking unless the peer stopped reading.
/// </summary>
internal abstract class XenstoreTransport : IDisposable
{
    /// <summary>Where the transport leads, for messages.</summary>
    internal abstract string Description { get; }

    /// <summary>Reads what is available (blocking until something is); 0 at end of stream.</summary>
    internal abstract int Receive(Span<byte> buffer);

    /// <summary>Bytes ready to read without blocking, or -1 when the transport cannot tell (no spinning then).</summary>
    internal virtual int Available => -1;

    /// <summary>Writes the whole message.</summary>
    internal abstract void Send(ReadOnlySpan<byte> message);

    /// <summary>Wakes a blocked <see cref="Receive"/> (which then returns 0 or throws) and releases the descriptor.</summary>
    public abstract void Dispose();
}
