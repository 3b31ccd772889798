using System.Management.Automation.Runspaces;
using System.Runtime.CompilerServices;

namespace VirtualDevices.PowerShell.Infrastructure;

/// <summary>
/// The module's handle on one runspace (a PowerShell session): the core <see cref="DeviceHost"/> that owns the
/// devices opened, the servers started and the xenstore connections of the session. The host is closed when the
/// runspace closes, so no descriptor, connection or listening socket outlives the session.
/// </summary>
public sealed class ModuleSession
{
    /// <summary>How long a closing runspace waits for the host to close.</summary>
    private static readonly TimeSpan CloseTimeout = TimeSpan.FromSeconds(10);

    /// <summary>
    /// The options of every xenstore client the session opens: replies resume awaiting code on the thread pool, so a
    /// pipeline that waits synchronously on one request never holds up the reader that completes another.
    /// </summary>
    private static readonly XenstoreClientOptions s_xenstoreOptions = new() { RunContinuationsAsynchronously = true };

    private static readonly ConditionalWeakTable<Runspace, ModuleSession> s_sessions = new();
    private static readonly ModuleSession s_noRunspace = new();

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
                        session.CloseAsync().AsTask().Wait(CloseTimeout);
                    }
                };
                return session;
            });
        }
    }

    /// <summary>The options of the xenstore clients the session opens.</summary>
    public static XenstoreClientOptions XenstoreOptions => s_xenstoreOptions;

    /// <summary>What the session owns: devices, servers, and the state of the device families.</summary>
    public DeviceHost Host { get; } = new();

    /// <summary>The session's xenstore connections (a part of the host, made on first use).</summary>
    public XenstoreConnections Xenstore => Host.GetOrAddPart(static () => new XenstoreConnections(s_xenstoreOptions));

    /// <summary>Closes the host: everything the session opened, newest first, servers before the devices they serve.</summary>
    public async ValueTask CloseAsync()
    {
        try
        {
            await Host.DisposeAsync().ConfigureAwait(false);
        }
        catch (AggregateException)
        {
            // The session is closing: what failed to close cleanly is gone all the same, and the rest was closed.
        }
    }
}
