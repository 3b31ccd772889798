using System.Net.Sockets;
using VirtualDevices.Devices;
using VirtualDevices.Hosting;
using VirtualDevices.Interop;
using VirtualDevices.Xen.Xenstore.Server;

namespace VirtualDevices.Xen.Loopback;

/// <summary>
/// Xen without Xen, for machines that have none: domains are processes on this host (or objects in one process)
/// that join through a unix control socket and get a domain id; their granted pages live in a memfd arena each, which
/// the domains that map a grant map too; event channels are eventfds (a notify is a write to the other end's).
/// The hypervisor tracks the domains, every grant (granter, reference, frame, read-only, how often it is mapped) and
/// every port, and enforces them: a reference never granted, a read-only grant mapped writable, a port not meant for
/// the caller are refused with typed errors, and a domain that goes away has its grants ended and its channels closed
/// (the other ends are told). It is Linux-only (memfd, eventfd, seqpacket sockets).
/// </summary>
/// <remarks>
/// <para>Threads: one accepting joins, one per domain reading its requests (blocking, as the other servers of the
/// core do); requests are handled under one lock (they are the control path: grants made once and kept, binds made
/// once). Events and page accesses never go through the hypervisor.</para>
/// <para>Not a security boundary: the domains are processes of one user, which could read each other's memory
/// anyway; the checks keep honest drivers honest and give a hostile peer typed errors, not a way to hang or crash
/// the hypervisor or the other domains. A domain that stops reading its socket is dropped, never waited for.</para>
/// </remarks>
public sealed partial class LoopbackHypervisor : IHostedService
{
    /// <summary>The prefix of the default names of the service in a <see cref="DeviceHost"/>: <c>xen-loopback0</c>.</summary>
    public const string DefaultPrefix = "xen-loopback";

    /// <summary>The error ids of a failed listen on the control socket.</summary>
    private static readonly SocketErrors.Server ListenErrors =
        new(DeviceErrorIds.XenLoopback.SocketInUse, DeviceErrorIds.XenLoopback.ConnectFailed, DeviceErrorCategory.ConnectionError, LoopbackErrors.Source);

    /// <summary>The highest id a domain may have (Xen's DOMID_FIRST_RESERVED - 1).</summary>
    public const ushort MaxDomainId = 0x7FEF;

    private readonly object _gate = new();
    private readonly Dictionary<ushort, LoopbackDomainState> _domains = [];
    private readonly List<(Socket Socket, Thread Thread)> _connections = [];
    private readonly Socket? _listener;
    private readonly Thread? _acceptThread;
    private UnixSocketFile? _socketFile;
    private long _protocolErrors;
    private int _stopped;

    private LoopbackXenstore? _xenstore;

    private LoopbackHypervisor(Socket? listener, string? socketPath)
    {
        _listener = listener;
        SocketPath = socketPath;
        if (listener is not null)
        {
            _acceptThread = new Thread(AcceptLoop) { IsBackground = true, Name = "xen-loopback accept" };
        }
    }

    /// <summary>The control socket other processes join through, or null when only in-process domains join.</summary>
    public string? SocketPath { get; }

    /// <summary>
    /// The embedded xenstore server the hypervisor runs (in dom0, <see cref="Domain0"/>), or null when started without
    /// one. Dom0's clients reach it in process (<c>XenstoreClient.ConnectInProcess</c>) or on <see cref="XenstoreSocketPath"/>;
    /// every other domain over its ring (<see cref="LoopbackDomain.ConnectXenstore"/>).
    /// </summary>
    public XenstoreServer? Xenstore => _xenstore?.Server;

    /// <summary>The unix socket the xenstore server listens on (for <c>XENSTORED_PATH=... xenstore-ls</c>), or null.</summary>
    public string? XenstoreSocketPath => _xenstore?.Server.SocketPath;

    /// <summary>Dom0, joined by the hypervisor itself when it runs xenstore (xenstored's domain); null otherwise.</summary>
    public LoopbackDomain? Domain0 => _xenstore?.Domain0;

    /// <summary>Control messages that did not parse or made no sense, answered with a protocol error.</summary>
    public long ProtocolErrors => Interlocked.Read(ref _protocolErrors);

    /// <inheritdoc/>
    public IReadOnlyCollection<IDevice> ServedDevices => [];

    /// <summary>The joined domains, by id.</summary>
    public IReadOnlyList<LoopbackDomainInfo> Domains
    {
        get
        {
            lock (_gate)
            {
                return _domains.Values.OrderBy(d => d.Id).Select(d => new LoopbackDomainInfo(d.Id, d.ArenaPages, d.Grants.Count, d.Ports.Count)).ToArray();
            }
        }
    }

    /// <summary>Every grant not yet released, by granter and reference.</summary>
    public IReadOnlyList<LoopbackGrantInfo> Grants
    {
        get
        {
            lock (_gate)
            {
                return _domains.Values.SelectMany(d => d.Grants.Values)
                    .OrderBy(g => g.Granter).ThenBy(g => g.Reference)
                    .Select(g => new LoopbackGrantInfo(g.Granter, g.Reference, g.Grantee, g.Frame, g.ReadOnly, g.MapCount, g.Ending)).ToArray();
            }
        }
    }

    /// <summary>Every event channel port, by domain and port.</summary>
    public IReadOnlyList<LoopbackChannelInfo> Channels
    {
        get
        {
            lock (_gate)
            {
                return _domains.Values.SelectMany(d => d.Ports.Values)
                    .OrderBy(p => p.Domain).ThenBy(p => p.Port)
                    .Select(p => new LoopbackChannelInfo(p.Domain, p.Port, p.RemoteDomain, p.RemotePort)).ToArray();
            }
        }
    }

    /// <summary>Starts a hypervisor; other processes join it through <paramref name="socketPath"/> (<see cref="LoopbackDomain.Join(string, ushort?, int)"/>).</summary>
    /// <param name="socketPath">The control socket to create, or null for in-process domains only (<see cref="JoinInProcess"/>).</param>
    /// <exception cref="PlatformNotSupportedException">Not Linux.</exception>
    /// <exception cref="DeviceException"><see cref="DeviceErrorIds.XenLoopback.SocketInUse"/> (a server answers there already),
    /// <c>SocketPathNotSocket</c> (something else is there: it is left untouched), <c>SocketDirectoryNotFound</c>,
    /// <see cref="DeviceErrorIds.XenLoopback.ConnectFailed"/> (any other failure to create the socket).</exception>
    public static LoopbackHypervisor Start(string? socketPath = null)
    {
        if (!OperatingSystem.IsLinux())
        {
            throw new PlatformNotSupportedException("The loopback hypervisor uses memfd, eventfd and seqpacket sockets, which only Linux has.");
        }

        if (socketPath is null)
        {
            return new LoopbackHypervisor(null, null);
        }

        LoopbackHypervisor hypervisor = Create(socketPath);
        hypervisor._acceptThread!.Start();
        return hypervisor;
    }

    /// <summary>
    /// Starts a hypervisor that runs xenstore as Xen does: the embedded server in dom0 (which the hypervisor joins
    /// itself: <see cref="Domain0"/>), and every domain that joins gets a xenstore ring page (grant reference 1,
    /// GNTTAB_RESERVED_XENSTORE) and an event channel, its <c>/local/domain/&lt;id&gt;</c> written as libxl does,
    /// and is introduced to the server (<c>@introduceDomain</c>); released when it leaves (<c>@releaseDomain</c>).
    /// </summary>
    /// <param name="socketPath">The control socket, or null for in-process domains only.</param>
    /// <param name="xenstoreSocketPath">A unix socket for dom0's xenstore clients (the xenstore tools), or null for in-process clients only.</param>
    /// <exception cref="DeviceException">As <see cref="Start(string?)"/>, and the xenstore server's listen errors.</exception>
    public static LoopbackHypervisor StartWithXenstore(string? socketPath = null, string? xenstoreSocketPath = null)
    {
        if (!OperatingSystem.IsLinux())
        {
            throw new PlatformNotSupportedException("The loopback hypervisor uses memfd, eventfd and seqpacket sockets, which only Linux has.");
        }

        LoopbackHypervisor hypervisor = socketPath is null ? new LoopbackHypervisor(null, null) : Create(socketPath);
        try
        {
            // Before any other domain can join: each one's join hands it a ring for this xenstore.
            hypervisor._xenstore = LoopbackXenstore.Start(hypervisor, xenstoreSocketPath);
        }
        catch
        {
            hypervisor.DisposeAsync().AsTask().GetAwaiter().GetResult();
            throw;
        }

        hypervisor._acceptThread?.Start();
        return hypervisor;
    }

    private static LoopbackHypervisor Create(string socketPath)
    {
        string path = Path.GetFullPath(socketPath);
        var listener = new Socket(AddressFamily.Unix, SocketType.Seqpacket, ProtocolType.Unspecified);
        UnixSocketFile file;
        try
        {
            // The servers' one rule for a socket path: only a socket nobody answers on is replaced; a file of any
            // other kind, or a live socket, is refused and left as it was.
            file = UnixSocketFile.Bind(listener, path, 64, ListenErrors);
        }
        catch
        {
            listener.Dispose();
            throw;
        }

        return new LoopbackHypervisor(listener, path) { _socketFile = file };
    }

    /// <summary>Starts a hypervisor as a service of <paramref name="host"/>, under <paramref name="name"/> or the next <c>xen-loopback</c> name.</summary>
    /// <param name="host">The host.</param>
    /// <param name="name">The service's name, or null.</param>
    /// <param name="socketPath">The control socket, or null for in-process domains only.</param>
    /// <param name="cancellationToken">Not used after the start.</param>
    public static Task<LoopbackHypervisor> StartAsync(DeviceHost host, string? name, string? socketPath, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(host);
        return host.StartServiceAsync(DefaultPrefix, name, (_, _) => Task.FromResult(Start(socketPath)), cancellationToken);
    }

    /// <summary>As <see cref="StartAsync"/>, for a hypervisor that runs xenstore (<see cref="StartWithXenstore"/>).</summary>
    /// <param name="host">The host.</param>
    /// <param name="name">The service's name, or null.</param>
    /// <param name="socketPath">The control socket, or null for in-process domains only.</param>
    /// <param name="xenstoreSocketPath">The xenstore server's unix socket for dom0's clients, or null.</param>
    /// <param name="cancellationToken">Not used after the start.</param>
    public static Task<LoopbackHypervisor> StartWithXenstoreAsync(DeviceHost host, string? name, string? socketPath, string? xenstoreSocketPath,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(host);
        return host.StartServiceAsync(DefaultPrefix, name, (_, _) => Task.FromResult(StartWithXenstore(socketPath, xenstoreSocketPath)), cancellationToken);
    }

    /// <summary>Joins a domain living in this process, over a socket pair (the same protocol as a process's).</summary>
    /// <param name="domainId">The id asked for (0 for dom0), or null for the lowest free id from 1.</param>
    /// <param name="arenaPages">The pages of its grant arena (the most it can have granted at once).</param>
    public LoopbackDomain JoinInProcess(ushort? domainId = null, int arenaPages = LoopbackDomain.DefaultArenaPages)
    {
        (Socket mine, Socket theirs) = CreateSocketPair();
        try
        {
            Accept(theirs);
        }
        catch
        {
            mine.Dispose();
            theirs.Dispose();
            throw;
        }

        return LoopbackDomain.Join(mine, "in-process", domainId, arenaPages);
    }

    /// <summary>Stops: every domain is disconnected (each sees its channels closed and the hypervisor gone), the socket removed.</summary>
    /// <param name="cancellationToken">Not needed: the stop does not wait for domains.</param>
    public Task StopAsync(CancellationToken cancellationToken = default) => DisposeAsync().AsTask();

    /// <inheritdoc/>
    public ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _stopped, 1) != 0)
        {
            return ValueTask.CompletedTask;
        }

        // The xenstore first: its rings unmap and unbind through dom0 while the hypervisor still answers.
        _xenstore?.Dispose();
        _listener?.Dispose();
        List<(Socket Socket, Thread Thread)> connections;
        lock (_gate)
        {
            connections = [.. _connections];
        }

        foreach ((Socket socket, _) in connections)
        {
            ShutdownQuietly(socket);
        }

        // Each connection's thread ends at once when its socket is shut down; bounded all the same (5 s each).
        foreach ((_, Thread thread) in connections)
        {
            thread.Join(TimeSpan.FromSeconds(5));
        }

        if (_acceptThread?.IsAlive == true)
        {
            _acceptThread.Join(TimeSpan.FromSeconds(5));
        }

        _socketFile?.Remove(); // only while the path is still our socket

        return ValueTask.CompletedTask;
    }

    internal static unsafe (Socket First, Socket Second) CreateSocketPair()
    {
        int* fds = stackalloc int[2];
        if (Unix.SocketPair(Unix.AF_UNIX, Unix.SOCK_SEQPACKET | Unix.SOCK_CLOEXEC, 0, fds) != 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            throw new DeviceException(DeviceErrorIds.XenLoopback.ConnectFailed, DeviceErrorCategory.ConnectionError,
                $"socketpair failed: {Unix.Errno.Describe(errno)}", "xen-loopback");
        }

        return (new Socket(new SafeSocketHandle(fds[0], ownsHandle: true)), new Socket(new SafeSocketHandle(fds[1], ownsHandle: true)));
    }

    private static void ShutdownQuietly(Socket socket)
    {
        try
        {
            socket.Shutdown(SocketShutdown.Both);
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
        }
    }

    private void AcceptLoop()
    {
        while (Volatile.Read(ref _stopped) == 0)
        {
            Socket accepted;
            try
            {
                accepted = _listener!.Accept();
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException)
            {
                if (Volatile.Read(ref _stopped) != 0)
                {
                    return;
                }

                Thread.Sleep(10); // EMFILE and the like: try again rather than spin
                continue;
            }

            try
            {
                Accept(accepted);
            }
            catch (ObjectDisposedException)
            {
                accepted.Dispose();
                return;
            }
        }
    }

    private void Accept(Socket socket)
    {
        var thread = new Thread(() => Serve(socket)) { IsBackground = true, Name = "xen-loopback domain" };
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(Volatile.Read(ref _stopped) != 0, this);
            _connections.Add((socket, thread));

            // Started under the lock: a stop that lists the connection always finds its thread started (to join it).
            thread.Start();
        }
    }

    private void Serve(Socket socket)
    {
        byte[] buffer = new byte[LoopbackMessage.MaxSize];
        LoopbackDomainState? domain = null;
        try
        {
            LoopbackMessage? joinReply = null;
            while (LoopbackMessage.Receive(socket, buffer, out LoopbackMessage? message, out _))
            {
                bool joining = domain is null;
                using (message)
                {
                    if (message is { Type: LoopbackMessageType.Leave } && domain is { } leaving)
                    {
                        // A goodbye: the departure whole before the reply (the domain's Dispose waits for it: a
                        // listing right after it no longer shows the domain, and its id is free).
                        domain = null;
                        Depart(leaving);
                        lock (_gate)
                        {
                            using var left = new LoopbackMessage(LoopbackMessageType.Leave | LoopbackMessageType.Reply);
                            left.Send(socket, dontWait: true);
                        }

                        return;
                    }

                    lock (_gate)
                    {
                        LoopbackMessage reply;
                        if (message is null)
                        {
                            Interlocked.Increment(ref _protocolErrors);
                            reply = Failure(LoopbackMessageType.Reply, LoopbackStatus.ProtocolError);
                        }
                        else
                        {
                            try
                            {
                                reply = Handle(ref domain, socket, message);
                            }
                            catch (Exception e) when (e is IOException or ObjectDisposedException or ArgumentException or InvalidOperationException)
                            {
                                // A request that made a system call or a record fail: answered, never the end of the
                                // thread (an unhandled exception would end the process hosting the hypervisor).
                                reply = Failure(message.Type, LoopbackStatus.SystemCallFailed);
                            }
                        }

                        if (joining && domain is { XenstorePort: not 0 })
                        {
                            // Sent after the toolstack's part, below: as on Xen, the guest's home exists and it is
                            // introduced before it runs, so whoever sees the join complete sees its home too.
                            joinReply = reply;
                        }
                        else
                        {
                            // Sent under the lock: a descriptor the reply lends (an arena, an eventfd) cannot be
                            // closed meanwhile by another domain's departure. Never blocks: a domain waits for its
                            // reply, so there is room for it, and one that does not read is dropped.
                            using (reply)
                            {
                                if (reply.Send(socket, dontWait: true) != 0)
                                {
                                    return;
                                }
                            }
                        }
                    }
                }

                if (joinReply is not null && domain is { } joined)
                {
                    using (joinReply)
                    {
                        // The toolstack's part, outside the lock (the server maps and binds through dom0's requests).
                        // The reply lends only this domain's own arena and eventfd, which only its own departure,
                        // handled by this thread, or the hypervisor's stop closes.
                        _xenstore?.OnJoined(joined.Id, joined.XenstoreFrame, joined.XenstorePort);
                        lock (_gate)
                        {
                            if (Volatile.Read(ref _stopped) != 0 || joinReply.Send(socket, dontWait: true) != 0)
                            {
                                return;
                            }
                        }
                    }

                    joinReply = null;
                }
            }
        }
        finally
        {
            if (domain is not null)
            {
                Depart(domain);
            }

            lock (_gate)
            {
                _connections.RemoveAll(c => ReferenceEquals(c.Socket, socket));
            }

            socket.Dispose();
        }
    }

    /// <summary>A domain's departure, whether it said goodbye or its socket closed.</summary>
    private void Depart(LoopbackDomainState domain)
    {
        // The toolstack's part first (RELEASE, the home removed), while the domain still holds its id: dropped first,
        // its id could go at once to a new domain, whose fresh home this departure then removed (1,000 joins in a row
        // reading each home at once failed so within the first few hundred).
        if (domain.XenstorePort != 0)
        {
            _xenstore?.OnLeft(domain.Id);
        }

        lock (_gate)
        {
            Drop(domain);
        }
    }

    private static LoopbackMessage Failure(LoopbackMessageType request, LoopbackStatus status) =>
        new(request | LoopbackMessageType.Reply, status);
}
