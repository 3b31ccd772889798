using VirtualDevices.Xen.Xenstore.Server;

namespace VirtualDevices.Xen.Xenstore.Client;

/// <summary>
/// The xenstore connections of a session (a part of its <see cref="Hosting.DeviceHost"/>): every connection it
/// opened, current or not (one stays usable by reference until it is closed), which embedded server each goes to,
/// and the current one that commands use by default. Closed with the session. Safe to call from any thread.
/// </summary>
/// <param name="options">The options of the connections the session opens itself (the default one, in-process ones).</param>
public sealed class XenstoreConnections(XenstoreClientOptions? options = null) : IAsyncDisposable
{
    private readonly object _gate = new();
    private readonly List<(XenstoreClient Client, XenstoreServer? Server)> _clients = [];
    private XenstoreClient? _current;

    /// <summary>The options of the connections the session opens itself.</summary>
    public XenstoreClientOptions Options { get; } = options ?? new XenstoreClientOptions();

    /// <summary>The connection commands use by default, or null before one is chosen.</summary>
    public XenstoreClient? Current
    {
        get
        {
            lock (_gate)
            {
                return _current;
            }
        }
    }

    /// <summary>Every connection of the session, current or not.</summary>
    public IReadOnlyList<XenstoreClient> Clients
    {
        get
        {
            lock (_gate)
            {
                return _clients.Select(c => c.Client).ToArray();
            }
        }
    }

    /// <summary>Keeps a connection, to be closed with the session.</summary>
    /// <param name="client">The connection.</param>
    /// <param name="inProcessServer">The embedded server it is connected to in-process, if it is.</param>
    public void Add(XenstoreClient client, XenstoreServer? inProcessServer = null)
    {
        ArgumentNullException.ThrowIfNull(client);
        lock (_gate)
        {
            if (!_clients.Exists(c => ReferenceEquals(c.Client, client)))
            {
                _clients.Add((client, inProcessServer));
            }
        }
    }

    /// <summary>Keeps a connection and makes it the current one; returns the one it replaces (which stays open).</summary>
    /// <param name="client">The connection.</param>
    /// <param name="inProcessServer">The embedded server it is connected to in-process, if it is.</param>
    public XenstoreClient? Use(XenstoreClient client, XenstoreServer? inProcessServer = null)
    {
        ArgumentNullException.ThrowIfNull(client);
        lock (_gate)
        {
            Add(client, inProcessServer);
            XenstoreClient? previous = _current;
            _current = client;
            return previous;
        }
    }

    /// <summary>Connects in-process to <paramref name="server"/> as dom0 and makes it the current connection, when there is none.</summary>
    /// <param name="server">The embedded server.</param>
    /// <returns>The new connection, or null when the session already had a current one.</returns>
    public XenstoreClient? UseIfNone(XenstoreServer server)
    {
        ArgumentNullException.ThrowIfNull(server);
        lock (_gate)
        {
            if (_current is not null)
            {
                return null;
            }

            XenstoreClient client = XenstoreClient.ConnectInProcess(server, 0, Options);
            Use(client, server);
            return client;
        }
    }

    /// <summary>The connections that go to an embedded server, in-process or through its socket.</summary>
    /// <param name="server">The server.</param>
    public IReadOnlyList<XenstoreClient> ClientsOf(XenstoreServer server)
    {
        ArgumentNullException.ThrowIfNull(server);
        string? socketPath = server.SocketPath;
        lock (_gate)
        {
            return _clients.Where(c => ReferenceEquals(c.Server, server) || (socketPath is not null && c.Client.Endpoint == socketPath)).Select(c => c.Client).ToArray();
        }
    }

    /// <summary>Forgets a connection (closed by the caller); when it was the current one, there is none.</summary>
    /// <param name="client">The connection.</param>
    public void Remove(XenstoreClient client)
    {
        lock (_gate)
        {
            _clients.RemoveAll(c => ReferenceEquals(c.Client, client));
            if (ReferenceEquals(_current, client))
            {
                _current = null;
            }
        }
    }

    /// <summary>Closes the connections that go to <paramref name="server"/>, so they end with it instead of trying to reconnect for ever.</summary>
    /// <param name="server">The server about to stop.</param>
    public async Task CloseClientsOfAsync(XenstoreServer server)
    {
        foreach (XenstoreClient client in ClientsOf(server))
        {
            Remove(client);
            await client.DisposeAsync().ConfigureAwait(false);
        }
    }

    /// <summary>
    /// The store a command talks to: <paramref name="explicitStore"/> when given, else the current connection, else
    /// the host's default xenstore (XENSTORED_PATH, the xenstored socket, or /dev/xen/xenbus), which then becomes the
    /// current one.
    /// </summary>
    /// <param name="explicitStore">The store the caller named, or null.</param>
    /// <param name="cancellationToken">Abandons connecting.</param>
    /// <exception cref="DeviceException">No store was named, none is current and the default cannot be reached (<c>XenstoreNotConnected</c>, ConnectionError).</exception>
    public async ValueTask<XenstoreClient> ResolveAsync(XenstoreClient? explicitStore, CancellationToken cancellationToken = default)
    {
        if ((explicitStore ?? Current) is { } known)
        {
            return known;
        }

        XenstoreClient client;
        try
        {
            client = await XenstoreClient.ConnectAsync(Options, cancellationToken).ConfigureAwait(false);
        }
        catch (DeviceException e)
        {
            throw new DeviceException(DeviceErrorIds.Xenstore.NotConnected, DeviceErrorCategory.ConnectionError,
                $"No xenstore to talk to ({e.Message}). Use Connect-Xenstore, or Start-XenstoreServer for an embedded one.", XenstoreException.XenstoreDeviceName, e);
        }

        lock (_gate)
        {
            if (_current is null)
            {
                Add(client);
                _current = client;
                return client;
            }
        }

        // Another thread chose a store meanwhile: use it, and do not leave a second default connection open.
        await client.DisposeAsync().ConfigureAwait(false);
        return Current ?? throw new DeviceDisconnectedException(XenstoreException.XenstoreDeviceName, "the session's xenstore was closed while connecting");
    }

    /// <summary>Closes every connection.</summary>
    public async ValueTask DisposeAsync()
    {
        foreach (XenstoreClient client in Clients)
        {
            Remove(client);
            await client.DisposeAsync().ConfigureAwait(false);
        }
    }
}
