using System.Management.Automation.Runspaces;
using System.Runtime.CompilerServices;
using VirtualDevices.Devices;
using VirtualDevices.Xen.Xenstore;

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
    private XenstoreClient? _xenstore;
    private object? _xenstoreServer;

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

    /// <summary>The embedded server the session's xenstore connection goes to in-process, or null.</summary>
    public object? XenstoreServer
    {
        get
        {
            lock (_gate)
            {
                return _xenstoreServer;
            }
        }
    }

    /// <summary>Makes <paramref name="client"/> the session's xenstore and returns the one it replaces.</summary>
    /// <param name="client">The new store, or null to forget the current one.</param>
    /// <param name="inProcessServer">The embedded server the client is connected to in-process, if it is.</param>
    public XenstoreClient? SwapXenstore(XenstoreClient? client, object? inProcessServer = null)
    {
        lock (_gate)
        {
            XenstoreClient? previous = _xenstore;
            _xenstore = client;
            _xenstoreServer = client is null ? null : inProcessServer;
            return previous;
        }
    }

    /// <summary>Disconnects every device, stops every server and closes the xenstore connection.</summary>
    public async ValueTask CloseAsync()
    {
        await Devices.DisconnectAllAsync().ConfigureAwait(false);
        XenstoreClient? store = SwapXenstore(null);
        if (store is not null)
        {
            await store.DisposeAsync().ConfigureAwait(false);
        }

        await Services.StopAllAsync().ConfigureAwait(false);
    }
}
