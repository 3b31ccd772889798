namespace VirtualDevices.IO;

/// <summary>
/// A <see cref="Transport"/> over a stream that wraps another transport: TLS (an
/// <see cref="System.Net.Security.SslStream"/> over a <see cref="TransportStream"/>), so that a connection's reader,
/// writer and input buffer work the same with and without TLS.
/// </summary>
/// <remarks>
/// The stream's calls must block (an SslStream over a <see cref="TransportStream"/> does: its inner calls complete
/// synchronously). Shutting down wakes blocked calls through the transport underneath; the stream is disposed with
/// the transport.
/// </remarks>
internal sealed class StreamTransport : Transport
{
    private readonly Stream _stream;
    private readonly Transport _underlying;
    private int _disposed;

    /// <param name="stream">The stream (owned by the transport from now on).</param>
    /// <param name="underlying">The transport beneath the stream, shut down to wake blocked calls.</param>
    public StreamTransport(Stream stream, Transport underlying)
    {
        _stream = stream;
        _underlying = underlying;
    }

    /// <inheritdoc/>
    public override string Description => _underlying.Description;

    /// <summary>The stream (for TLS's own close).</summary>
    public Stream Stream => _stream;

    /// <inheritdoc/>
    public override int Receive(Span<byte> buffer) => _stream.Read(buffer);

    /// <inheritdoc/>
    public override void Send(ReadOnlySpan<byte> data)
    {
        _stream.Write(data);
        _stream.Flush();
    }

    /// <inheritdoc/>
    public override void Send(ReadOnlySpan<byte> header, ReadOnlySpan<byte> payload)
    {
        _stream.Write(header);
        _stream.Write(payload);
        _stream.Flush();
    }

    /// <inheritdoc/>
    public override void SendGathered(ReadOnlyMemory<byte> header, ReadOnlyMemory<byte> payload) => Send(header.Span, payload.Span);

    /// <inheritdoc/>
    public override void ShutdownReceive() => _underlying.ShutdownReceive();

    /// <inheritdoc/>
    public override void ShutdownSend() => _underlying.ShutdownSend();

    /// <inheritdoc/>
    public override void Shutdown() => _underlying.Shutdown();

    /// <inheritdoc/>
    public override void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        _underlying.Shutdown();
        try
        {
            _stream.Dispose();
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException)
        {
            // TLS's close notification could not be sent on a transport already shut down.
        }

        _underlying.Dispose();
    }
}
