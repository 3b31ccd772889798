namespace VirtualDevices.IO;

/// <summary>
/// The one transport seam: a connected byte stream carrying a protocol's messages (NBD, xenstore). Today a socket
/// (<see cref="SocketTransport"/>) or a character device or other descriptor (<see cref="DescriptorTransport"/>);
/// tomorrow a Xen shared ring (xenstore's <c>xenstore_domain_interface</c> is a byte ring with the same framing).
/// </summary>
/// <remarks>
/// Calls are blocking by design. A connection's reader is a thread of its own blocked in <see cref="Receive"/>, which
/// the kernel wakes straight from the call: one wake-up per burst of data, where an asynchronous receive costs two
/// (the runtime's epoll thread, then a thread-pool thread) and about 200 bytes per request. This is libnbd's and
/// nbdkit's model. <see cref="Shutdown"/> is how another thread ends a blocked call (cancellation, a stopping server).
/// </remarks>
internal abstract class Transport : IDisposable
{
    /// <summary>Where the transport leads, for messages (a socket path, an address, a device).</summary>
    public abstract string Description { get; }

    /// <summary>Reads what is available into <paramref name="buffer"/>, blocking until something is; 0 at end of stream.</summary>
    /// <exception cref="IOException">The transport failed (the peer reset it, the descriptor broke).</exception>
    public abstract int Receive(Span<byte> buffer);

    /// <summary>Bytes ready to read without blocking, or -1 when the transport cannot tell (callers then do not spin).</summary>
    public virtual int Available => -1;

    /// <summary>Writes all of <paramref name="data"/>, blocking while the peer does not take it.</summary>
    /// <exception cref="IOException">The transport failed.</exception>
    public abstract void Send(ReadOnlySpan<byte> data);

    /// <summary>
    /// Writes a header and its payload, as one system call where the transport can gather (a socket): a header sent
    /// alone costs a second system call and, on TCP without cork, may leave as a packet of its own.
    /// </summary>
    public virtual void Send(ReadOnlySpan<byte> header, ReadOnlySpan<byte> payload)
    {
        Send(header);
        Send(payload);
    }

    /// <summary>
    /// As <see cref="Send(ReadOnlySpan{byte}, ReadOnlySpan{byte})"/>, for buffers held in memory: a socket gathers
    /// array-backed ones into one system call (the frame writer's batch of headers and a large payload).
    /// </summary>
    public virtual void SendGathered(ReadOnlyMemory<byte> header, ReadOnlyMemory<byte> payload) => Send(header.Span, payload.Span);

    /// <summary>
    /// Ends the sending direction (a socket's half close: the peer reads end of stream, replies still arrive);
    /// nothing where the transport has no such thing. Failures are ignored.
    /// </summary>
    public virtual void ShutdownSend()
    {
    }

    /// <summary>
    /// Ends the receiving direction: a blocked receive returns end of stream, while sends still work (a server
    /// stopping: it stops reading requests and still answers those in progress). A transport that cannot half-close
    /// shuts down both ways.
    /// </summary>
    public virtual void ShutdownReceive() => Shutdown();

    /// <summary>Reads exactly <paramref name="buffer"/>'s length; false when the stream ended first (nothing or part read).</summary>
    public bool TryReceiveExactly(Span<byte> buffer)
    {
        while (!buffer.IsEmpty)
        {
            int read = Receive(buffer);
            if (read == 0)
            {
                return false;
            }

            buffer = buffer[read..];
        }

        return true;
    }

    /// <summary>
    /// The descriptor a poll loop (<see cref="Polling.PollLoop"/>) can wait on for this transport, or null when it
    /// cannot be polled; when set, <see cref="ReceiveNonBlocking"/> and <see cref="SendNonBlocking"/> work.
    /// </summary>
    public virtual System.Runtime.InteropServices.SafeHandle? PollHandle => null;

    /// <summary>
    /// Reads what is available without blocking (for a poll loop, after the descriptor was reported readable); the
    /// blocking calls above keep blocking.
    /// </summary>
    /// <returns>Bytes read; 0 at end of stream; -1 when nothing is available now.</returns>
    /// <exception cref="IOException">The transport failed.</exception>
    /// <exception cref="NotSupportedException">The transport cannot be polled (<see cref="PollHandle"/> is null).</exception>
    public virtual int ReceiveNonBlocking(Span<byte> buffer) =>
        throw new NotSupportedException($"{Description} cannot be used without blocking.");

    /// <summary>Writes what the transport takes now, without blocking.</summary>
    /// <returns>Bytes written: 0 when it takes nothing now (wait until it is reported writable).</returns>
    /// <exception cref="IOException">The transport failed (the peer has gone).</exception>
    /// <exception cref="NotSupportedException">The transport cannot be polled (<see cref="PollHandle"/> is null).</exception>
    public virtual int SendNonBlocking(ReadOnlySpan<byte> data) =>
        throw new NotSupportedException($"{Description} cannot be used without blocking.");

    /// <summary>
    /// The poll events that announce room for more output, for a poll loop waiting to send: a descriptor's writable
    /// event; readable for a Xen ring, whose one event channel says both "input came" and "the peer made room".
    /// </summary>
    public virtual Polling.PollEvents WritableEvents => Polling.PollEvents.Writable;

    /// <summary>
    /// True when input is readable that no poll event will announce any more: a Xen ring whose event was taken by a
    /// non-blocking send that found no room. A poll loop reads at once after such a send rather than wait for an event.
    /// </summary>
    public virtual bool InputPending => false;

    /// <summary>
    /// Ends every blocked call on the transport from another thread (receives return 0 or throw), without releasing
    /// the descriptor, so that a thread still inside a call never sees its descriptor reused. Idempotent.
    /// </summary>
    public abstract void Shutdown();

    /// <summary>Shuts the transport down and releases it. Idempotent.</summary>
    public abstract void Dispose();
}
