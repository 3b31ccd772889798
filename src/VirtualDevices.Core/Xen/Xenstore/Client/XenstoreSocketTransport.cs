using System.Net.Sockets;

namespace VirtualDevices.Xen.Xenstore;

/// <summary>xenstored's unix socket, or an in-process socket pair to the embedded server.</summary>
internal sealed class XenstoreSocketTransport : XenstoreTransport
{
    private readonly Socket _socket;
    private int _disposed;

    internal XenstoreSocketTransport(Socket socket, string description)
    {
        _socket = socket;
        Description = description;
    }

    internal override string Description { get; }

    /// <summary>Connects to the unix socket at <paramref name="path"/>.</summary>
    /// <exception cref="DeviceException">
    /// <c>SocketNotFound</c> (no such socket), <c>ConnectionRefused</c> (nothing listens there),
    /// <c>ConnectAccessDenied</c>, or <c>XenstoreConnectFailed</c> (anything else).
    /// </exception>
    internal static XenstoreSocketTransport Connect(string path)
    {
        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            // A synchronous connect keeps the socket in blocking mode (no async operation ever touches it).
            socket.Connect(new UnixDomainSocketEndPoint(path));
            return new XenstoreSocketTransport(socket, path);
        }
        catch (SocketException e)
        {
            socket.Dispose();
            if (Devices.SocketErrors.Connect(e, path, path) is { } known)
            {
                throw new DeviceException(known.Id, known.Category, $"Cannot connect to xenstore: {known.Reason}.", XenstoreException.XenstoreDeviceName, e);
            }

            throw new DeviceException("XenstoreConnectFailed", DeviceErrorCategory.ConnectionError,
                $"Cannot connect to xenstore at '{path}': {e.Message}", XenstoreException.XenstoreDeviceName, e);
        }
    }

    internal override int Receive(Span<byte> buffer) => _socket.Receive(buffer);

    internal override int Available
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

    internal override void Send(ReadOnlySpan<byte> message)
    {
        while (!message.IsEmpty)
        {
            message = message[_socket.Send(message)..];
        }
    }

    public override void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        try
        {
            _socket.Shutdown(SocketShutdown.Both);
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
        }

        _socket.Dispose();
    }
}
