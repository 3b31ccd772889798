using System.Net.Sockets;
using VirtualDevices.Xen.Xenstore.Client;

namespace VirtualDevices.Xen.Xenstore.Server;

/// <summary>
/// An embedded, in-memory xenstore: the node tree, permissions, transactions, watches, quotas and domains of
/// xenstored, served on a unix socket (where the xenstore tools and libxenstore find it through
/// <c>XENSTORED_PATH</c>) and to in-process clients. Unix-socket clients are dom0, as with xenstored; in-process
/// and attached connections speak for the domain they are bound to, with relative paths under its
/// <c>/local/domain/&lt;id&gt;</c>.
/// </summary>
/// <example>
/// <code>
/// await using var server = XenstoreServer.Listen("/tmp/xs.sock");
/// await using var client = await XenstoreClient.ConnectAsync("/tmp/xs.sock");
/// </code>
/// </example>
public sealed class XenstoreServer : IAsyncDisposable, IDisposable
{
    private readonly XenstoreDatabase _store;
    private readonly XenstoreServerOptions _options;
    private readonly CancellationTokenSource _stopping = new();
    private Socket? _listener;
    private Devices.UnixSocketFile? _socketFile;
    private Task? _acceptLoop;
    private int _connectionNumber;
    private int _disposed;

    /// <summary>Creates a server with an empty tree (just the root, owned by dom0) and no listener yet.</summary>
    /// <param name="options">Quotas and limits; xenstored's defaults when null.</param>
    public XenstoreServer(XenstoreServerOptions? options = null)
    {
        _options = options ?? new XenstoreServerOptions();
        _store = new XenstoreDatabase(_options);
    }

    /// <summary>Creates a server listening on the unix socket <paramref name="socketPath"/>.</summary>
    /// <param name="socketPath">
    /// Where to create the socket; a socket file nobody listens on is replaced, anything else there is refused.
    /// </param>
    /// <param name="options">Quotas and limits; xenstored's defaults when null.</param>
    /// <exception cref="DeviceException">As <see cref="StartListening"/>.</exception>
    public static XenstoreServer Listen(string socketPath, XenstoreServerOptions? options = null)
    {
        var server = new XenstoreServer(options);
        try
        {
            server.StartListening(socketPath);
            return server;
        }
        catch
        {
            server.Dispose();
            throw;
        }
    }

    /// <summary>The unix socket the server listens on, or null.</summary>
    public string? SocketPath { get; private set; }

    /// <summary>The number of open connections (socket, in-process and attached).</summary>
    public int ConnectionCount => _store.ConnectionCount;

    /// <summary>True until the server is stopped.</summary>
    public bool IsRunning => Volatile.Read(ref _disposed) == 0;

    /// <summary>Starts accepting dom0 clients on the unix socket <paramref name="socketPath"/>.</summary>
    /// <param name="socketPath">
    /// Where to create the socket. A socket file nobody listens on (left by a server that was killed) is replaced;
    /// anything else at the path is left untouched and refused.
    /// </param>
    /// <exception cref="InvalidOperationException">The server already listens.</exception>
    /// <exception cref="DeviceException">
    /// The socket cannot be created: <c>SocketPathNotSocket</c> (a file that is not a socket is there),
    /// <c>XenstoreSocketInUse</c> (another server listens there), <c>SocketDirectoryNotFound</c>,
    /// <c>ListenAccessDenied</c>, <c>AddressInUse</c>, or <c>XenstoreListenFailed</c> (anything else, such as a path
    /// longer than the 108 bytes a socket address holds).
    /// </exception>
    public void StartListening(string socketPath)
    {
        ArgumentException.ThrowIfNullOrEmpty(socketPath);
        ObjectDisposedException.ThrowIf(!IsRunning, this);
        if (_listener is not null)
        {
            throw new InvalidOperationException($"The xenstore server already listens on {SocketPath}.");
        }

        var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        var errors = new Devices.SocketErrors.Server("XenstoreSocketInUse", "XenstoreListenFailed", DeviceErrorCategory.ConnectionError,
            XenstoreException.XenstoreDeviceName);
        try
        {
            _socketFile = Devices.UnixSocketFile.Bind(listener, socketPath, 64, errors);
        }
        catch (Exception e) when (e is DeviceException or ArgumentException)
        {
            listener.Dispose();
            if (e is ArgumentException)
            {
                // UnixDomainSocketEndPoint refuses a path longer than sun_path.
                throw new DeviceException("XenstoreListenFailed", DeviceErrorCategory.InvalidArgument,
                    $"Cannot listen on {socketPath}: {e.Message}", XenstoreException.XenstoreDeviceName, e);
            }

            throw;
        }

        _listener = listener;
        SocketPath = socketPath;
        _acceptLoop = IO.AcceptLoop.RunAsync(listener, accepted => Attach(accepted, 0), _stopping.Token);
    }

    /// <summary>
    /// Opens an in-process connection bound to <paramref name="domainId"/> and returns the client's end, a connected
    /// unix socket (what <see cref="XenstoreClient.ConnectInProcess"/> uses).
    /// </summary>
    /// <param name="domainId">0 for a privileged client, or the domain it speaks for.</param>
    public Socket ConnectInProcess(int domainId = 0)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(domainId);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(domainId, 0xFFFF);
        (Socket client, Socket server) = IO.SocketPair.Create("XenstoreSocketPairFailed", XenstoreException.XenstoreDeviceName);
        try
        {
            AttachConnection(server, domainId);
        }
        catch
        {
            client.Dispose();
            server.Dispose();
            throw;
        }

        return client;
    }

    /// <summary>
    /// Serves a connected stream socket as a connection of <paramref name="domainId"/>: how a hypervisor emulation
    /// attaches a guest's xenstore ring once it carries the ring over a socket. The server owns the socket from now on.
    /// </summary>
    /// <param name="socket">A connected stream socket.</param>
    /// <param name="domainId">The domain the peer speaks for (0 is privileged).</param>
    public void AttachConnection(Socket socket, int domainId)
    {
        ArgumentNullException.ThrowIfNull(socket);
        ArgumentOutOfRangeException.ThrowIfNegative(domainId);
        ObjectDisposedException.ThrowIf(!IsRunning, this);
        Attach(socket, domainId);
    }

    private void Attach(Socket socket, int domainId)
    {
        var connection = new ServerConnection(_store, socket, domainId, _options, Interlocked.Increment(ref _connectionNumber));
        _store.Register(connection);
        connection.Start();
    }

    /// <summary>Marks a domain introduced (as INTRODUCE does) and fires <c>@introduceDomain</c>.</summary>
    /// <returns>False if it already was.</returns>
    public bool IntroduceDomain(int domainId)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(domainId);
        return _store.IntroduceDomain(domainId);
    }

    /// <summary>Forgets a domain (as RELEASE does): closes its connections and fires <c>@releaseDomain</c>.</summary>
    /// <returns>False if it was not introduced.</returns>
    public bool ReleaseDomain(int domainId) => _store.ReleaseDomain(domainId);

    /// <summary>True for dom0 and for introduced domains that were not released.</summary>
    public bool IsDomainIntroduced(int domainId) => _store.IsDomainIntroduced(domainId);

    /// <summary>Stops listening, closes every connection and removes the socket file.</summary>
    public async ValueTask DisposeAsync()
    {
        List<ServerConnection> connections = StopCore();
        if (connections.Count == 0 && _acceptLoop is null)
        {
            return;
        }

        if (_acceptLoop is not null)
        {
            await _acceptLoop.ConfigureAwait(false);
        }

        foreach (ServerConnection connection in connections)
        {
            await Task.Run(() => connection.Thread.Join(TimeSpan.FromSeconds(5))).ConfigureAwait(false);
        }
    }

    /// <summary>Stops listening, closes every connection and removes the socket file.</summary>
    public void Dispose()
    {
        foreach (ServerConnection connection in StopCore())
        {
            connection.Thread.Join(TimeSpan.FromSeconds(5));
        }

        _acceptLoop?.Wait(TimeSpan.FromSeconds(5));
    }

    private List<ServerConnection> StopCore()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return [];
        }

        _stopping.Cancel();
        _listener?.Dispose();
        // Only the socket this server created, and only while it is still there: never a file that replaced it.
        _socketFile?.Remove();

        List<ServerConnection> connections = _store.SnapshotConnections();
        foreach (ServerConnection connection in connections)
        {
            connection.Close();
        }

        return connections.Where(c => c.Thread.IsAlive).ToList();
    }
}
