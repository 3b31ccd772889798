using System.Management.Automation;
using VirtualDevices.PowerShell.Infrastructure;
using VirtualDevices.Xen.Xenstore;

namespace VirtualDevices.PowerShell.Commands.Xenstore;

/// <summary>What every xenstore cmdlet shares: the -Store parameter, and paths resolved to a store and a node.</summary>
public abstract class XenstoreCommand : AsyncCmdlet
{
    /// <summary>The xenstore connection to use (default: the session's, chosen with Connect-Xenstore); binds the Store property of piped items.</summary>
    [Parameter(ValueFromPipelineByPropertyName = true)]
    [AllowNull]
    public XenstoreClient? Store { get; set; }

    /// <summary>The store for commands that take no path; resolved on the pipeline thread.</summary>
    protected XenstoreClient ResolveStore() => XenstoreSession.Resolve(Session, Store);

    /// <summary>
    /// Resolves a path (a xenstore path, or a path on a Xenstore drive) to its store and node, reporting failures as
    /// this input's error.
    /// </summary>
    /// <param name="path">The path as given.</param>
    /// <param name="store">The store it names.</param>
    /// <param name="node">The xenstore path of the node.</param>
    protected bool TryLocate(string path, out XenstoreClient store, out string node)
    {
        try
        {
            (store, node) = XenstoreSession.Locate(this, Session, path, Store);
            return true;
        }
        catch (Exception e) when (e is DeviceException or ArgumentException or ItemNotFoundException or System.Management.Automation.DriveNotFoundException or ProviderNotFoundException)
        {
            WriteError(ErrorRecords.FromException(e, path));
            store = null!;
            node = path;
            return false;
        }
    }
}
