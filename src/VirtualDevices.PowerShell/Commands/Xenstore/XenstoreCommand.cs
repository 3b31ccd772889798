using System.Management.Automation;
using VirtualDevices.PowerShell.Infrastructure;
using VirtualDevices.Xen.Xenstore;

namespace VirtualDevices.PowerShell.Commands.Xenstore;

/// <summary>What every xenstore cmdlet shares: the -Store parameter and the store it resolves to.</summary>
public abstract class XenstoreCommand : AsyncCmdlet
{
    /// <summary>The xenstore connection to use (default: the session's, chosen with Connect-Xenstore).</summary>
    [Parameter]
    public XenstoreClient? Store { get; set; }

    /// <summary>The store this command talks to; resolved on the pipeline thread.</summary>
    protected XenstoreClient ResolveStore() => XenstoreSession.Resolve(Session, Store);

    /// <summary>Runs work against the resolved store, reporting a missing store as this input's error.</summary>
    /// <param name="target">The path or object errors are reported against.</param>
    /// <param name="work">The work.</param>
    protected void RunOnStore(object target, Func<XenstoreClient, CancellationToken, Task> work)
    {
        XenstoreClient store;
        try
        {
            store = ResolveStore();
        }
        catch (DeviceException e)
        {
            WriteError(ErrorRecords.FromException(e, target));
            return;
        }

        RunAsync(cancellationToken => work(store, cancellationToken), target);
    }
}
