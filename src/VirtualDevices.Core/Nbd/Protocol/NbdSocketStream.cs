using System.Net.Sockets;

namespace VirtualDevices.Nbd.Protocol;

/// <summary>
/// A stream over a connected socket that is only ever used with blocking calls, by threads of the connection's own.
/// </summary>
/// <remarks>
/// <para>
/// Why not <see cref="NetworkStream"/>'s asynchronous calls: the first one switches the socket to non-blocking mode
/// and registers it with .NET's epoll thread for good. Every burst of data then costs a wake-up of that thread, a
/// hand-over to the thread that waits for the data, and (on this path) about 200 bytes of allocation per request.
/// An NBD connection has one reader that does nothing but wait for the next message, so a thread blocked in
/// <c>recv</c> serves it better: the data goes from the kernel straight into the caller's buffer on the thread that
/// parses it, with no wake-up in between. This is libnbd's and nbdkit's model (a thread per connection).
/// </para>
/// <para>
/// The asynchronous methods therefore complete synchronously: they block the calling thread. Only the handshakes
/// use them, on a connection thread or a thread-pool thread set aside for the handshake, and a handshake's
/// cancellation token closes the socket through <see cref="AbortOn"/>, which is what unblocks the call.
/// </para>
/// <para>
/// Sends go out whole (a blocking send returns when the kernel took every byte), and the gathered form sends a
/// header and a payload in one system call.
/// </para>
/// </remarks>
internal sealed class NbdSocketStream : Stream
{
    private readonly Socket _socket;
    private int _disposed;

    /// <param name="socket">A connected socket on which no asynchronous call was ever made (it is still blocking).</param>
    public NbdSocketStream(Socket socket)
    {
        _socket = socket;
    }

    /// <summary>The socket (owned by the stream).</summary>
    public Socket Socket => _socket;

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
    /// Closes the socket when <paramref name="cancellationToken"/> is cancelled, which ends any blocking call on it.
    /// </summary>
    public CancellationTokenRegistration AbortOn(CancellationToken cancellationToken) =>
        cancellationToken.UnsafeRegister(static state => ((NbdSocketStream)state!).Abort(), this);

    /// <summary>Shuts the socket down both ways (waking any thread blocked on it) and closes it.</summary>
    public void Abort()
    {
        try
        {
            _socket.Shutdown(SocketShutdown.Both);
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            // Not connected any more, or already closed.
        }

        _socket.Dispose();
    }

    public override int Read(Span<byte> buffer)
    {
        try
        {
            return _socket.Receive(buffer, SocketFlags.None);
        }
        catch (SocketException e)
        {
            // As NetworkStream does: stream users expect transport failures as IOException.
            throw new IOException(e.Message, e);
        }
    }

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override void Write(ReadOnlySpan<byte> buffer)
    {
        try
        {
            while (!buffer.IsEmpty)
            {
                buffer = buffer[_socket.Send(buffer, SocketFlags.None)..];
            }
        }
        catch (SocketException e)
        {
            throw new IOException(e.Message, e);
        }
    }

    public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

    /// <summary>Sends a header and a payload with one gathered system call (more only if the kernel takes part).</summary>
    public void Write(ArraySegment<byte> header, ArraySegment<byte> payload, List<ArraySegment<byte>> scratch)
    {
        scratch.Clear();
        scratch.Add(header);
        scratch.Add(payload);
        int sent;
        try
        {
            sent = _socket.Send(scratch, SocketFlags.None);
        }
        catch (SocketException e)
        {
            throw new IOException(e.Message, e);
        }

        if (sent < header.Count)
        {
            Write(header.AsSpan(sent));
            sent = header.Count;
        }

        Write(payload.AsSpan(sent - header.Count));
    }

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
            Abort();
        }

        base.Dispose(disposing);
    }
}
