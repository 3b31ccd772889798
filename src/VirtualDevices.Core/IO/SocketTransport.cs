using System.Net.Sockets;
using VirtualDevices.Interop;

namespace VirtualDevices.IO;

/// <summary>A connected stream socket (unix or TCP), used with blocking calls, or per-call non-blocking ones for a poll loop.</summary>
/// <remarks>
/// No asynchronous call is ever made on the socket: the first one would switch it to non-blocking mode and register
/// it with the runtime's epoll thread for good (see <see cref="Transport"/> for why that costs).
/// </remarks>
internal sealed class SocketTransport : Transport
{
    private readonly Socket _socket;
    private readonly List<ArraySegment<byte>> _segments = new(2);
    private int _shutdown;
    private int _disposed;

    /// <param name="socket">A connected socket, owned by the transport from now on.</param>
    /// <param name="description">Where it leads, for messages.</param>
    public SocketTransport(Socket socket, string description)
    {
        _socket = socket;
        Description = description;
    }

    /// <inheritdoc/>
    public override string Description { get; }

    /// <summary>The socket, for options and addresses (owned by the transport).</summary>
    public Socket Socket => _socket;

    /// <summary>Connects to the unix socket at <paramref name="path"/>, with a blocking connect (the socket stays blocking).</summary>
    /// <exception cref="SocketException">The connect failed; <see cref="Devices.SocketErrors"/> names the common reasons.</exception>
    public static SocketTransport ConnectUnix(string path)
    {
        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            socket.Connect(new UnixDomainSocketEndPoint(path));
            return new SocketTransport(socket, path);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <inheritdoc/>
    public override int Receive(Span<byte> buffer)
    {
        try
        {
            return _socket.Receive(buffer);
        }
        catch (SocketException e)
        {
            throw new IOException($"receive from {Description} failed: {e.Message}", e);
        }
    }

    /// <inheritdoc/>
    public override int Available
    {
        get
        {
            try
            {
                return _socket.Available;
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException)
            {
                // Let the next receive report the failure.
                return 1;
            }
        }
    }

    /// <inheritdoc/>
    public override void Send(ReadOnlySpan<byte> data)
    {
        try
        {
            while (!data.IsEmpty)
            {
                data = data[_socket.Send(data)..];
            }
        }
        catch (SocketException e)
        {
            throw new IOException($"send to {Description} failed: {e.Message}", e);
        }
    }

    /// <inheritdoc/>
    public override void SendGathered(ReadOnlyMemory<byte> header, ReadOnlyMemory<byte> payload)
    {
        if (!MemoryMarshal.TryGetArray(header, out ArraySegment<byte> first) || !MemoryMarshal.TryGetArray(payload, out ArraySegment<byte> second))
        {
            Send(header.Span, payload.Span);
            return;
        }

        // Sends on a connection are serialised (its frame writer), so one scratch list serves them all.
        List<ArraySegment<byte>> scratch = _segments;
        scratch.Clear();
        scratch.Add(first);
        scratch.Add(second);
        int sent;
        try
        {
            sent = _socket.Send(scratch, SocketFlags.None);
        }
        catch (SocketException e)
        {
            throw new IOException($"send to {Description} failed: {e.Message}", e);
        }

        if (sent < first.Count)
        {
            Send(first.AsSpan(sent));
            sent = first.Count;
        }

        Send(second.AsSpan(sent - first.Count));
    }

    /// <inheritdoc/>
    public override void ShutdownReceive()
    {
        try
        {
            _socket.Shutdown(SocketShutdown.Receive);
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            // Already reset or closed.
        }
    }

    /// <inheritdoc/>
    public override void ShutdownSend()
    {
        try
        {
            _socket.Shutdown(SocketShutdown.Send);
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            // Already reset or closed.
        }
    }

    /// <inheritdoc/>
    public override SafeHandle? PollHandle => _socket.SafeHandle;

    /// <inheritdoc/>
    /// <remarks><c>recv</c> with <c>MSG_DONTWAIT</c>: the socket itself stays blocking for <see cref="Receive"/>.</remarks>
    public override unsafe int ReceiveNonBlocking(Span<byte> buffer)
    {
        fixed (byte* pointer = buffer)
        {
            while (true)
            {
                nint read = Unix.Recv(_socket.SafeHandle, pointer, (nuint)buffer.Length, Unix.MSG_DONTWAIT);
                if (read >= 0)
                {
                    return (int)read;
                }

                int errno = Marshal.GetLastPInvokeError();
                if (errno == Unix.Errno.EAGAIN)
                {
                    return -1;
                }

                if (errno != Unix.Errno.EINTR)
                {
                    throw new IOException($"receive from {Description} failed: {Unix.Errno.Describe(errno)}");
                }
            }
        }
    }

    /// <inheritdoc/>
    /// <remarks><c>send</c> with <c>MSG_DONTWAIT</c>: the socket itself stays blocking for <see cref="Send(ReadOnlySpan{byte})"/>.</remarks>
    public override unsafe int SendNonBlocking(ReadOnlySpan<byte> data)
    {
        fixed (byte* pointer = data)
        {
            while (true)
            {
                nint written = Unix.Send(_socket.SafeHandle, pointer, (nuint)data.Length, Unix.MSG_DONTWAIT | Unix.MSG_NOSIGNAL);
                if (written >= 0)
                {
                    return (int)written;
                }

                int errno = Marshal.GetLastPInvokeError();
                if (errno == Unix.Errno.EAGAIN)
                {
                    return 0;
                }

                if (errno != Unix.Errno.EINTR)
                {
                    throw new IOException($"send to {Description} failed: {Unix.Errno.Describe(errno)}");
                }
            }
        }
    }

    /// <inheritdoc/>
    public override void Shutdown()
    {
        if (Interlocked.Exchange(ref _shutdown, 1) != 0)
        {
            return;
        }

        try
        {
            _socket.Shutdown(SocketShutdown.Both);
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            // Already reset by the peer or closed: nothing left to wake.
        }
    }

    /// <inheritdoc/>
    public override void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        Shutdown();
        _socket.Dispose();
    }
}
