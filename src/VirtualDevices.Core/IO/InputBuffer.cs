using System.Buffers;

namespace VirtualDevices.IO;

/// <summary>
/// A read buffer over a connection's transport: small headers are parsed from the buffer, so many replies arrive in one
/// receive call, while large payloads bypass it and are received straight into their destination (no second copy).
/// Only one reader uses it at a time. Its calls block: the transport underneath is a socket (or
/// TLS over one), read by a connection's own thread or by the thread doing a handshake.
/// </summary>
internal sealed class InputBuffer : IDisposable
{
    private Transport _transport;
    private byte[] _buffer;
    private int _start;
    private int _end;

    /// <summary>
    /// The default capacity: room for hundreds of headers per receive call, yet small enough that the part of a large
    /// payload that arrives with its header (and is copied out of this buffer) stays a few percent of it.
    /// </summary>
    public const int DefaultCapacity = 8 * 1024;

    /// <param name="transport">Where the bytes come from.</param>
    /// <param name="capacity">The buffer's size, and the largest <see cref="Fill"/>.</param>
    public InputBuffer(Transport transport, int capacity = DefaultCapacity)
    {
        _transport = transport;
        _buffer = ArrayPool<byte>.Shared.Rent(capacity);
    }

    /// <summary>Bytes already received and not yet consumed.</summary>
    public int Buffered => _end - _start;

    /// <summary>Switches to another transport (TLS over the socket, after STARTTLS); nothing may be buffered, or it would bypass TLS.</summary>
    public void ReplaceTransport(Transport transport)
    {
        if (Buffered != 0)
        {
            throw new InvalidOperationException("Data arrived before the TLS handshake.");
        }

        _transport = transport;
    }

    /// <summary>The transport the bytes come from (TLS over the socket after STARTTLS).</summary>
    public Transport Transport => _transport;

    /// <summary>Makes at least <paramref name="count"/> bytes available in <see cref="Peek"/>; fails at end of stream.</summary>
    public void Fill(int count)
    {
        if (count > _buffer.Length)
        {
            throw new ArgumentOutOfRangeException(nameof(count));
        }

        if (_end - _start >= count)
        {
            return;
        }

        if (_buffer.Length - _start < count)
        {
            Buffer.BlockCopy(_buffer, _start, _buffer, 0, _end - _start);
            _end -= _start;
            _start = 0;
        }

        while (_end - _start < count)
        {
            int n = _transport.Receive(_buffer.AsSpan(_end));
            if (n == 0)
            {
                throw new EndOfStreamException("The peer closed the connection.");
            }

            _end += n;
        }
    }

    /// <summary>Receives exactly <paramref name="destination"/>.Length bytes into it, buffered ones first.</summary>
    public void ReadExactly(Span<byte> destination)
    {
        int buffered = Math.Min(Buffered, destination.Length);
        if (buffered > 0)
        {
            Take(buffered).CopyTo(destination);
            destination = destination[buffered..];
        }

        while (!destination.IsEmpty)
        {
            // A small remainder goes through the buffer so the headers that follow it arrive in the same call.
            if (destination.Length < _buffer.Length / 4)
            {
                Fill(1);
                int n = Math.Min(Buffered, destination.Length);
                Take(n).CopyTo(destination);
                destination = destination[n..];
                continue;
            }

            int read = _transport.Receive(destination);
            if (read == 0)
            {
                throw new EndOfStreamException("The peer closed the connection.");
            }

            destination = destination[read..];
        }
    }

    /// <summary>Discards <paramref name="count"/> bytes of the stream.</summary>
    public void Skip(long count)
    {
        while (count > 0)
        {
            Fill(1);
            int n = (int)Math.Min(Buffered, count);
            Take(n);
            count -= n;
        }
    }

    /// <summary>The buffered bytes (valid until the next fill).</summary>
    public ReadOnlySpan<byte> Peek(int count) => _buffer.AsSpan(_start, count);

    /// <summary>Consumes and returns buffered bytes.</summary>
    public ReadOnlySpan<byte> Take(int count)
    {
        ReadOnlySpan<byte> span = _buffer.AsSpan(_start, count);
        _start += count;
        if (_start == _end)
        {
            _start = _end = 0;
        }

        return span;
    }

    public void Dispose()
    {
        byte[] buffer = Interlocked.Exchange(ref _buffer, []);
        if (buffer.Length > 0)
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }
}
