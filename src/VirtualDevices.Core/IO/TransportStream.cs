namespace VirtualDevices.IO;

/// <summary>
/// A <see cref="Stream"/> over a blocking <see cref="Transport"/>, for what speaks streams: the handshakes (NBD's
/// option haggling) and <see cref="System.Net.Security.SslStream"/>, which wraps it for TLS.
/// </summary>
/// <remarks>
/// <para>
/// The asynchronous methods complete synchronously: they block the calling thread (see <see cref="Transport"/> for
/// why the transports are blocking). Only the handshakes use them, on a connection thread or a thread-pool thread
/// set aside for the handshake, and a handshake's cancellation token closes the transport through
/// <see cref="AbortOn"/>, which is what unblocks the call.
/// </para>
/// <para>Writes go out whole (a blocking send returns when the kernel took every byte).</para>
/// </remarks>
internal sealed class TransportStream : Stream
{
    private readonly Transport _transport;
    private int _disposed;

    /// <param name="transport">The transport, owned by the stream from now on.</param>
    public TransportStream(Transport transport)
    {
        _transport = transport;
    }

    /// <summary>The transport (owned by the stream).</summary>
    public Transport Transport => _transport;

    public override bool CanRead => true;

    public override bool CanWrite => true;

    public override bool CanSeek => false;

    public override long Length => throw new NotSupportedException();

    public override long Position
    {
        get => throw new NotSupportedException();
        set => throw new NotSupportedException();
    }

    /// <summary>
    /// Closes the transport when <paramref name="cancellationToken"/> is cancelled, which ends any blocking call on it.
    /// </summary>
    public CancellationTokenRegistration AbortOn(CancellationToken cancellationToken) =>
        cancellationToken.UnsafeRegister(static state => ((TransportStream)state!).Abort(), this);

    /// <summary>Shuts the transport down (waking any thread blocked on it) and closes it.</summary>
    public void Abort() => _transport.Dispose();

    public override int Read(Span<byte> buffer) => _transport.Receive(buffer);

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override void Write(ReadOnlySpan<byte> buffer) => _transport.Send(buffer);

    public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        if (cancellationToken.IsCancellationRequested)
        {
            return ValueTask.FromCanceled<int>(cancellationToken);
        }

        try
        {
            return new ValueTask<int>(Read(buffer.Span));
        }
        catch (Exception e)
        {
            return ValueTask.FromException<int>(e);
        }
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        if (cancellationToken.IsCancellationRequested)
        {
            return ValueTask.FromCanceled(cancellationToken);
        }

        try
        {
            Write(buffer.Span);
            return default;
        }
        catch (Exception e)
        {
            return ValueTask.FromException(e);
        }
    }

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override void Flush()
    {
    }

    public override Task FlushAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (disposing && Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            _transport.Dispose();
        }

        base.Dispose(disposing);
    }
}
