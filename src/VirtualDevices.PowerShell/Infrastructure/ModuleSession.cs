using System.Management.Automation.Runspaces;
using System.Runtime.CompilerServices;
using VirtualDevices.Devices;
using VirtualDevices.Xen.Xenstore;
using VirtualDevices.Xen.Xenstore.Client;

namespace VirtualDevices.PowerShell.Infrastructure;

/// <summary>
/// What the module keeps for one runspace (a PowerShell session): the devices opened in it, the servers started in
/// it, and the xenstore it talks to. Everything is disconnected or stopped when the runspace closes, so no
/// descriptor, connection or listening socket outlives the session.
/// </summary>
public sealed class ModuleSession
{
    private static readonly ConditionalWeakTable<Runspace, ModuleSession> s_sessions = new();
    private static readonly ModuleSession s_noRunspace = new();
    private readonly object _gate = new();
    private readonly List<(XenstoreClient Client, object? Server)> _xenstoreClients = [];
    private XenstoreClient? _xenstore;

    /// <summary>The session of the runspace running on this thread (call it on the pipeline thread).</summary>
    public static ModuleSession Current
    {
        get
        {
            Runspace? runspace = Runspace.DefaultRunspace;
            if (runspace is null)
            {
                return s_noRunspace;
            }

            return s_sessions.GetValue(runspace, static r =>
            {
                var session = new ModuleSession();
                r.StateChanged += (_, e) =>
                {
                    if (e.RunspaceStateInfo.State is RunspaceState.Closing or RunspaceState.Closed or RunspaceState.Broken)
                    {
                        session.CloseAsync().AsTask().Wait(TimeSpan.FromSeconds(10));
                    }
                };
                return session;
            });
        }
    }

    /// <summary>The devices open in the session.</summary>
    public DeviceRegistry Devices { get; } = new();

    /// <summary>The servers started in the session (xenstore, NBD), by name.</summary>
    public ServiceRegistry Services { get; } = new();

    /// <summary>The xenstore the Xenstore cmdlets and the Xs: drive use, or null before one is chosen.</summary>
    public XenstoreClient? Xenstore
    {
        get
        {
            lock (_gate)
            {
                return _xenstore;
            }
        }
    }

    /// <summary>Makes <paramref name="client"/> the session's xenstore and returns the one it replaces (which stays open).</summary>
    /// <param name="client">The new store, or null to forget the current one.</param>
    public XenstoreClient? SwapXenstore(XenstoreClient? client)
    {
        lock (_gate)
        {
            XenstoreClient? previous = _xenstore;
            _xenstore = client;
            return previous;
        }
    }

    /// <summary>The xenstore connections opened in the session, current or not (a connection stays usable with -Store until disconnected).</summary>
    public IReadOnlyList<XenstoreClient> XenstoreClients
    {
        get
        {
            lock (_gate)
            {
                return _xenstoreClients.Select(c => c.Client).ToList();
            }
        }
    }

    /// <summary>Keeps a connection for the session, to be closed with it.</summary>
    /// <param name="client">The connection.</param>
    /// <param name="inProcessServer">The embedded server it is connected to in-process, if it is.</param>
    public void AddXenstore(XenstoreClient client, object? inProcessServer = null)
    {
        lock (_gate)
        {
            if (!_xenstoreClients.Exists(c => ReferenceEquals(c.Client, client)))
            {
                _xenstoreClients.Add((client, inProcessServer));
            }
        }
    }

    /// <summary>The session's connections that go to an embedded server, in-process or through its socket.</summary>
    /// <param name="server">The server.</param>
    /// <param name="socketPath">Its socket, if it listens on one.</param>
    public IReadOnlyList<XenstoreClient> XenstoreClientsOf(object server, string? socketPath)
    {
        lock (_gate)
        {
            return _xenstoreClients.Where(c => ReferenceEquals(c.Server, server) || (socketPath is not null && c.Client.Endpoint == socketPath)).Select(c => c.Client).ToList();
        }
    }

    /// <summary>Forgets a connection (closed by the caller); if it was the session's xenstore, the session has none.</summary>
    /// <param name="client">The connection.</param>
    public void RemoveXenstore(XenstoreClient client)
    {
        lock (_gate)
        {
            _xenstoreClients.RemoveAll(c => ReferenceEquals(c.Client, client));
            if (ReferenceEquals(_xenstore, client))
            {
                _xenstore = null;
            }
        }
    }

    /// <summary>Stops every server, then closes every xenstore connection and disconnects every device.</summary>
    /// <remarks>
    /// Servers first: a device an NBD server exports is pinned while it is served, so closing it under the server
    /// would end its clients' requests with ESHUTDOWN instead of a clean disconnect.
    /// </remarks>
    public async ValueTask CloseAsync()
    {
        await Services.StopAllAsync().ConfigureAwait(false);
        foreach (XenstoreClient client in XenstoreClients)
        {
            RemoveXenstore(client);
            await client.DisposeAsync().ConfigureAwait(false);
        }

        await Devices.DisconnectAllAsync().ConfigureAwait(false);
    }
}
