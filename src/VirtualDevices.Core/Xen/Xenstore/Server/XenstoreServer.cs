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
    private readonly IO.Polling.PollLoop _loop;
    private readonly ServerConnectionContext _context;
    private readonly Timer _stallCheck;
    private readonly Action _closeStalled;
    private Socket? _listener;
    private Devices.UnixSocketFile? _socketFile;
    private Task? _acceptLoop;
    private int _disposed;

    /// <summary>Creates a server with an empty tree (just the root, owned by dom0) and no listener yet.</summary>
    /// <param name="options">Quotas and limits; xenstored's defaults when null.</param>
    public XenstoreServer(XenstoreServerOptions? options = null)
    {
        _options = options ?? new XenstoreServerOptions();
        _store = new XenstoreDatabase(_options);
        // One thread serves every connection (xenstored's model); 1,000 idle clients cost no thread each. epoll on
        // Linux, poll(2) elsewhere (macOS), unless the options ask for one.
        _loop = new IO.Polling.PollLoop("xenstored-poll", _options.PollBackend, _options.PollSpin);
        _context = new ServerConnectionContext(_loop, _options);
        _closeStalled = CloseStalledConnections;
        // Once a second is enough to honour a send timeout counted in seconds; the check itself runs on the loop.
        _stallCheck = new Timer(static state => ((XenstoreServer)state!).PostStallCheck(), this, 1000, 1000);
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
        var errors = new Devices.SocketErrors.Server(DeviceErrorIds.Xenstore.SocketInUse, DeviceErrorIds.Xenstore.ListenFailed, DeviceErrorCategory.ConnectionError,
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
                throw new DeviceException(DeviceErrorIds.Xenstore.ListenFailed, DeviceErrorCategory.InvalidArgument,
                    $"Cannot listen on {socketPath}: {e.Message}", XenstoreException.XenstoreDeviceName, e);
            }

            throw;
        }

        _listener = listener;
        SocketPath = socketPath;
        _acceptLoop = IO.AcceptLoop.RunAsync(listener, AttachAccepted, _stopping.Token);
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
        (Socket client, Socket server) = IO.SocketPair.Create(DeviceErrorIds.Xenstore.SocketPairFailed, XenstoreException.XenstoreDeviceName);
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
    /// <exception cref="DeviceException"><c>XenstoreAttachFailed</c>: the socket cannot be polled (released).</exception>
    public void AttachConnection(Socket socket, int domainId)
    {
        ArgumentNullException.ThrowIfNull(socket);
        ArgumentOutOfRangeException.ThrowIfNegative(domainId);
        ObjectDisposedException.ThrowIf(!IsRunning, this);
        Attach(socket, domainId);
    }

    private void AttachAccepted(Socket socket)
    {
        try
        {
            Attach(socket, 0);
        }
        catch (Exception e) when (e is DeviceException or ObjectDisposedException)
        {
            // That client is dropped (its socket released); the listener goes on, or is stopping anyway.
        }
    }

    private void Attach(Socket socket, int domainId) =>
        AttachTransport(new IO.SocketTransport(socket, domainId == 0 ? "a xenstore client" : $"a xenstore client of domain {domainId}"), domainId);

    /// <summary>
    /// Serves a connected transport as a connection of <paramref name="domainId"/>: any transport a poll loop can wait
    /// on (a socket today; a shared ring with its event channel later). The server owns the transport from now on.
    /// </summary>
    /// <exception cref="ArgumentException">The transport cannot be polled.</exception>
    /// <exception cref="ObjectDisposedException">The server was stopped (the transport is released).</exception>
    internal void AttachTransport(IO.Transport transport, int domainId)
    {
        System.Runtime.InteropServices.SafeHandle? handle = transport.PollHandle;
        if (handle is null)
        {
            transport.Dispose();
            throw new ArgumentException($"The transport {transport.Description} cannot be polled.", nameof(transport));
        }

        var connection = new ServerConnection(_store, transport, domainId, _context);
        _store.Register(connection);
        try
        {
            connection.Start(handle);
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException)
        {
            connection.Teardown();
            if (e is ObjectDisposedException)
            {
                throw new ObjectDisposedException(nameof(XenstoreServer), e);
            }

            throw new DeviceException(DeviceErrorIds.Xenstore.AttachFailed, DeviceErrorCategory.ConnectionError,
                $"Cannot serve {transport.Description}: {e.Message}", XenstoreException.XenstoreDeviceName, e);
        }
    }

    /// <summary>
    /// From now on INTRODUCE connects the domain's ring through <paramref name="connector"/> (the loopback
    /// hypervisor's): the domain's connection is its ring, bound to its id.
    /// </summary>
    internal void UseRings(IXenstoreRingConnector connector)
    {
        ArgumentNullException.ThrowIfNull(connector);
        _store.RingIntroducer = (domainId, frame, port) => ConnectRing(connector, domainId, frame, port);
    }

    private ServerError ConnectRing(IXenstoreRingConnector connector, int domainId, ulong frame, uint port)
    {
        IO.Transport transport;
        try
        {
            transport = connector.Connect(domainId, frame, port);
        }
        catch (DeviceException)
        {
            // No such domain, grant or unbound port: xenstored answers what its failed map or bind said, which its
            // wire error table turns into EINVAL (ESRCH has no xenstore name).
            return ServerError.EINVAL;
        }

        try
        {
            AttachTransport(transport, domainId);
            return ServerError.None;
        }
        catch (Exception e) when (e is DeviceException or ArgumentException or ObjectDisposedException)
        {
            return ServerError.EINVAL; // released by AttachTransport
        }
    }

    private void PostStallCheck()
    {
        if (IsRunning)
        {
            _loop.Post(_closeStalled);
        }
    }

    private void CloseStalledConnections()
    {
        long now = Environment.TickCount64;
        foreach (ServerConnection connection in _store.SnapshotConnections())
        {
            connection.CloseIfStalled(now);
        }
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
        if (!StopCore())
        {
            return;
        }

        // Joining the loop's thread blocks (briefly): not on the caller's thread.
        await Task.Run(StopLoop).ConfigureAwait(false);
        if (_acceptLoop is not null)
        {
            await _acceptLoop.ConfigureAwait(false);
        }
    }

    /// <summary>Stops listening, closes every connection and removes the socket file.</summary>
    public void Dispose()
    {
        if (!StopCore())
        {
            return;
        }

        StopLoop();
        _acceptLoop?.Wait(TimeSpan.FromSeconds(5));
    }

    private bool StopCore()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return false;
        }

        _stopping.Cancel();
        _stallCheck.Dispose();
        _listener?.Dispose();
        // Only the socket this server created, and only while it is still there: never a file that replaced it.
        _socketFile?.Remove();

        // Each close shuts its transport down at once (the peer sees the end now) and queues its teardown on the loop.
        foreach (ServerConnection connection in _store.SnapshotConnections())
        {
            connection.Close();
        }

        return true;
    }

    /// <summary>Runs the queued teardowns, stops the loop, and releases whatever a wedged loop left behind.</summary>
    private void StopLoop()
    {
        _loop.Dispose();
        foreach (ServerConnection connection in _store.SnapshotConnections())
        {
            // Only when the loop did not get to them (it ended first): the loop's thread no longer runs.
            connection.Teardown();
        }
    }
}
