using System.Management.Automation;
using VirtualDevices.PowerShell.Infrastructure;
using VirtualDevices.Xen.Xenstore;

namespace VirtualDevices.PowerShell.Commands.Xenstore;

/// <summary>
/// <para type="synopsis">Gets the permissions of xenstore nodes: owner, default access and per-domain access.</para>
/// </summary>
[Cmdlet(VerbsCommon.Get, "XenstorePermission", HelpUri = "https://github.com/VirtualDevices/VirtualDevices/blob/main/docs/VirtualDevices/Get-XenstorePermission.md")]
[OutputType(typeof(XenstoreItemPermissions))]
public sealed class GetXenstorePermissionCommand : XenstoreCommand
{
    /// <summary>The nodes whose permissions are read.</summary>
    [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
    [ValidateNotNullOrEmpty]
    [Alias("NodePath")]
    public string[] Path { get; set; } = null!;

    /// <inheritdoc/>
    protected override void ProcessRecord()
    {
        foreach (string item in Path)
        {
            if (TryLocate(item, out XenstoreClient store, out string path))
            {
                Run(async cancellationToken =>
                    Emit(new XenstoreItemPermissions(path, await store.GetPermissionsAsync(path, cancellationToken).ConfigureAwait(false))), path);
            }
        }
    }
}
