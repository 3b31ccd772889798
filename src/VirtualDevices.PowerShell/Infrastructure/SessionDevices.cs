using System.Management.Automation.Runspaces;
using System.Runtime.CompilerServices;
using VirtualDevices.Devices;

namespace VirtualDevices.PowerShell.Infrastructure;

/// <summary>
/// One device registry per runspace (a PowerShell session): devices opened in a session are listed there until
/// disconnected, and disconnected when the runspace closes so no descriptor or connection outlives it.
/// </summary>
public static class SessionDevices
{
    private static readonly ConditionalWeakTable<Runspace, DeviceRegistry> s_registries = new();
    private static readonly DeviceRegistry s_noRunspace = new();

    /// <summary>The registry of the runspace running on this thread (call it on the pipeline thread).</summary>
    public static DeviceRegistry Current
    {
        get
        {
            Runspace? runspace = Runspace.DefaultRunspace;
            if (runspace is null)
            {
                return s_noRunspace;
            }

            return s_registries.GetValue(runspace, static r =>
            {
                var registry = new DeviceRegistry();
                r.StateChanged += (_, e) =>
                {
                    if (e.RunspaceStateInfo.State is RunspaceState.Closing or RunspaceState.Closed or RunspaceState.Broken)
                    {
                        registry.DisconnectAllAsync().AsTask().Wait(TimeSpan.FromSeconds(10));
                    }
                };
                return registry;
            });
        }
    }
}
