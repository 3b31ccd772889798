using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;

namespace VirtualDevices.Nbd.Server;

/// <summary>
/// Serves block devices over NBD (fixed newstyle; GO, INFO, LIST, EXPORT_NAME, ABORT, STARTTLS, structured
/// replies, extended headers, <c>base:allocation</c>) on TCP and unix sockets, to many clients at once, each with
/// many requests in flight. A client that breaks the protocol is disconnected; it never reaches outside an export.
/// A write is answered only once the device has completed it, so a client that vanishes loses nothing it was told
/// was written.
/// </summary>
/// <remarks>
/// The server owns its sockets, not the devices: <see cref="StopAsync"/> and disposal close connections and
/// listeners and leave the exports' devices open.
/// </remarks>
public sealed class NbdServer : IAsyncDisposable
{
    private readonly NbdServerOptions _options;
    private readonly ConcurrentDictionary<string, NbdExport> _exports = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<NbdServerConnection, byte> _connections = new();
    private readonly CancellationTokenSource _stopping = new();
    private readonly List<Socket> _listeners = [];
    private readonly List<Task> _acceptLoops = [];
    private Devices.UnixSocketFile? _socketFile;
    private long _totalConnections;
    private long _requests;
    private long _bytesRead;
    private long _bytesWritten;
    private long _errorReplies;
    private long _protocolViolations;
    private long _bytesInFlight;
    private long _peakBytesInFlight;
    private long _evictedConnections;
    private int _budgetWaiters;
    private readonly object _budgetLock = new();
    private int _state; // 0 new, 1 running, 2 stopped

    /// <summary>Creates a server; nothing listens until <see cref="StartAsync"/>.</summary>
    /// <param name="options">Endpoints, TLS and limits.</param>
    /// <param name="exports">Exports to start with.</param>
    public NbdServer(NbdServerOptions options, params NbdExport[] exports)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        _options = options;
        foreach (NbdExport export in exports)
        {
            AddExport(export);
        }
    }

    /// <summary>The options.</summary>
    public NbdServerOptions Options => _options;

    /// <summary>The exports, sorted by name (ordinal comparison, as clients see them in NBD_OPT_LIST).</summary>
    public IReadOnlyCollection<NbdExport> Exports => [.. ListExports()];

    /// <summary>The TCP endpoint actually bound (with the chosen port), once started.</summary>
    public IPEndPoint? TcpEndPoint { get; private set; }

    /// <summary>The unix socket listened on, once started.</summary>
    public string? UnixSocketPath { get; private set; }

    /// <summary>True between <see cref="StartAsync"/> and <see cref="StopAsync"/>.</summary>
    public bool IsRunning => Volatile.Read(ref _state) == 1;

    /// <summary>Clients connected now.</summary>
    public int ConnectionCount => _connections.Count;

    /// <summary>Adds an export; new clients see it at once.</summary>
    /// <param name="export">The export.</param>
    /// <exception cref="ArgumentException">An export of that name exists.</exception>
    public void AddExport(NbdExport export)
    {
        ArgumentNullException.ThrowIfNull(export);
        if (!_exports.TryAdd(export.Name, export))
        {
            throw new ArgumentException($"An export named '{export.Name}' already exists.", nameof(export));
        }
    }

    /// <summary>Removes an export from the list new clients see; connected clients keep using it.</summary>
    /// <param name="name">The export's name.</param>
    /// <returns>True if it existed.</returns>
    public bool RemoveExport(string name) => _exports.TryRemove(name, out _);

    /// <summary>Binds the listeners; returns once they accept connections.</summary>
    /// <param name="cancellationToken">Unused beyond an early check; binding does not block.</param>
    /// <exception cref="InvalidOperationException">The server was started before.</exception>
    /// <exception cref="DeviceException">
    /// An endpoint cannot be bound: <c>AddressInUse</c> (another program listens on the port),
    /// <c>AddressNotAvailable</c> (not an address of this machine), <c>ListenAccessDenied</c> (a port below 1024, a
    /// directory that may not be written), <c>SocketDirectoryNotFound</c>, <c>SocketPathNotSocket</c> (the unix
    /// socket path holds a file that is not a socket, which is left untouched), <c>NbdServerSocketInUse</c> (another
    /// server listens on the unix socket) or <c>NbdServerBindFailed</c> (anything else). A socket file nobody listens
    /// on is replaced. A failed start closes whatever it had bound and leaves the server stopped.
    /// </exception>
    public Task StartAsync(CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        if (Interlocked.CompareExchange(ref _state, 1, 0) != 0)
        {
            throw new InvalidOperationException("The server was already started.");
        }

        var errors = new Devices.SocketErrors.Server(DeviceErrorIds.Nbd.ServerSocketInUse, DeviceErrorIds.Nbd.ServerBindFailed, DeviceErrorCategory.ResourceExists, null);
        try
        {
            if (_options.TcpEndPoint is { } endPoint)
            {
                var socket = new Socket(endPoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
                _listeners.Add(socket);
                // SO_REUSEADDR alone, so that a restarted server can bind while old connections linger in TIME_WAIT.
                // Not .NET's ReuseAddress: on Unix it adds SO_REUSEPORT, and a second server would then share the port.
                socket.SetRawSocketOption(Interop.Unix.SOL_SOCKET, Interop.Unix.SO_REUSEADDR, BitConverter.GetBytes(1));
                try
                {
                    socket.Bind(endPoint);
                    socket.Listen(128);
                }
                catch (SocketException e)
                {
                    throw Devices.SocketErrors.Listen(e, endPoint.ToString(), null, errors);
                }

                TcpEndPoint = (IPEndPoint)socket.LocalEndPoint!;
            }

            if (_options.UnixSocketPath is { Length: > 0 } path)
            {
                var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
                _listeners.Add(socket);
                _socketFile = Devices.UnixSocketFile.Bind(socket, path, 128, errors);
                UnixSocketPath = path;
            }
        }
        catch
        {
            // A failed start releases whatever it bound (a TCP port before a unix socket in use, say) and leaves
            // the server stopped.
            foreach (Socket listener in _listeners)
            {
                listener.Dispose();
            }

            _listeners.Clear();
            _socketFile?.Remove();
            _socketFile = null;
            TcpEndPoint = null;
            UnixSocketPath = null;
            Volatile.Write(ref _state, 2);
            throw;
        }

        foreach (Socket listener in _listeners)
        {
            _acceptLoops.Add(Task.Run(() => IO.AcceptLoop.RunAsync(listener, Accept, _stopping.Token)));
        }

        return Task.CompletedTask;
    }

    /// <summary>
    /// Stops: no new connections; each connection stops reading, lets its requests in flight finish (within
    /// <see cref="NbdServerOptions.ShutdownGracePeriod"/>), sends their replies and closes. Devices stay open.
    /// </summary>
    /// <param name="cancellationToken">Stops waiting for connections to close gracefully.</param>
    public async Task StopAsync(CancellationToken cancellationToken = default)
    {
        if (Interlocked.Exchange(ref _state, 2) != 1)
        {
            return;
        }

        await _stopping.CancelAsync().ConfigureAwait(false);
        foreach (Socket listener in _listeners)
        {
            listener.Dispose();
        }

        try
        {
            await Task.WhenAll(_acceptLoops).WaitAsync(cancellationToken).ConfigureAwait(false);
            var closing = new List<Task>();
            foreach (NbdServerConnection connection in _connections.Keys)
            {
                closing.Add(connection.Completion);
            }

            await Task.WhenAll(closing).WaitAsync(_options.ShutdownGracePeriod + TimeSpan.FromSeconds(5), cancellationToken).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            foreach (NbdServerConnection connection in _connections.Keys)
            {
                connection.Abort();
            }
        }
        finally
        {
            // Only the socket this server created, and only while it is still there: never a file that replaced it.
            _socketFile?.Remove();
        }
    }

    /// <summary>A snapshot of the counters.</summary>
    public NbdServerStatistics GetStatistics() => new(
        _connections.Count,
        Interlocked.Read(ref _totalConnections),
        Interlocked.Read(ref _requests),
        Interlocked.Read(ref _bytesRead),
        Interlocked.Read(ref _bytesWritten),
        Interlocked.Read(ref _errorReplies),
        Interlocked.Read(ref _protocolViolations),
        Interlocked.Read(ref _bytesInFlight),
        Interlocked.Read(ref _peakBytesInFlight),
        Interlocked.Read(ref _evictedConnections));

    /// <inheritdoc/>
    public async ValueTask DisposeAsync()
    {
        await StopAsync().ConfigureAwait(false);
        _stopping.Dispose();
    }

    internal NbdExport? FindExport(string name) => _exports.TryGetValue(name, out NbdExport? export) ? export : null;

    internal IEnumerable<NbdExport> ListExports() => _exports.Values.OrderBy(e => e.Name, StringComparer.Ordinal);

    internal void CountRequest(long bytesRead, long bytesWritten, bool error)
    {
        Interlocked.Increment(ref _requests);
        if (bytesRead != 0)
        {
            Interlocked.Add(ref _bytesRead, bytesRead);
        }

        if (bytesWritten != 0)
        {
            Interlocked.Add(ref _bytesWritten, bytesWritten);
        }

        if (error)
        {
            Interlocked.Increment(ref _errorReplies);
        }
    }

    internal void CountProtocolViolation() => Interlocked.Increment(ref _protocolViolations);

    /// <summary>Takes <paramref name="bytes"/> from the server's budget; false when they do not fit now.</summary>
    internal bool TryReserve(long bytes)
    {
        if (bytes == 0)
        {
            return true;
        }

        long now;
        do
        {
            now = Volatile.Read(ref _bytesInFlight);
            if (now + bytes > _options.MaximumBytesInFlight)
            {
                return false;
            }
        }
        while (Interlocked.CompareExchange(ref _bytesInFlight, now + bytes, now) != now);

        long peak;
        while ((peak = Volatile.Read(ref _peakBytesInFlight)) < now + bytes && Interlocked.CompareExchange(ref _peakBytesInFlight, now + bytes, peak) != peak)
        {
        }

        return true;
    }

    /// <summary>Gives bytes back to the budget, waking connections that wait for it.</summary>
    internal void Release(long bytes)
    {
        if (bytes == 0)
        {
            return;
        }

        // A full fence before the read of the waiters: a connection that announced itself after it sees the bytes.
        Interlocked.Add(ref _bytesInFlight, -bytes);
        if (Volatile.Read(ref _budgetWaiters) != 0)
        {
            lock (_budgetLock)
            {
                Monitor.PulseAll(_budgetLock);
            }
        }
    }

    /// <summary>Blocks a connection's reader until the budget may hold <paramref name="bytes"/> (or 100 ms pass).</summary>
    internal void WaitForBudget(long bytes)
    {
        lock (_budgetLock)
        {
            Interlocked.Increment(ref _budgetWaiters);
            try
            {
                if (Volatile.Read(ref _bytesInFlight) + bytes > _options.MaximumBytesInFlight && !_stopping.IsCancellationRequested)
                {
                    Monitor.Wait(_budgetLock, TimeSpan.FromMilliseconds(100));
                }
            }
            finally
            {
                Interlocked.Decrement(ref _budgetWaiters);
            }
        }
    }

    /// <summary>
    /// Makes room for a new client by closing the connection idle longest, if one has been idle for
    /// <see cref="NbdServerOptions.IdleEvictionAge"/>. Connections with a request in progress are never chosen.
    /// </summary>
    private bool EvictIdlest()
    {
        if (_options.IdleEvictionAge == Timeout.InfiniteTimeSpan)
        {
            return false;
        }

        List<NbdServerConnection>? candidates = null;
        foreach (NbdServerConnection connection in _connections.Keys)
        {
            if (connection.IsIdle && System.Diagnostics.Stopwatch.GetElapsedTime(connection.LastActivity) >= _options.IdleEvictionAge)
            {
                (candidates ??= []).Add(connection);
            }
        }

        if (candidates is null)
        {
            return false;
        }

        candidates.Sort(static (a, b) => a.LastActivity.CompareTo(b.LastActivity));
        foreach (NbdServerConnection candidate in candidates)
        {
            if (candidate.TryEvict())
            {
                _connections.TryRemove(candidate, out _);
                Interlocked.Increment(ref _evictedConnections);
                return true;
            }
        }

        return false;
    }

    private void Accept(Socket client)
    {
        if (_connections.Count >= _options.MaximumConnections && !EvictIdlest())
        {
            client.Dispose();
            return;
        }

        if (client.AddressFamily is AddressFamily.InterNetwork or AddressFamily.InterNetworkV6)
        {
            client.NoDelay = true;
        }

        Protocol.NbdSocketTuning.Apply(client);

        Interlocked.Increment(ref _totalConnections);
        var connection = new NbdServerConnection(this, new IO.SocketTransport(client, "NBD client"), _options, _stopping.Token);
        _connections.TryAdd(connection, 0);
        connection.Start();
    }

    /// <summary>A connection has closed (called before its completion, so a stopped server counts none).</summary>
    internal void Remove(NbdServerConnection connection) => _connections.TryRemove(connection, out _);
}
