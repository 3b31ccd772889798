using System.Management.Automation;
using VirtualDevices.PowerShell.Infrastructure;
using VirtualDevices.Xen.Xenstore;
using VirtualDevices.Xen.Xenstore.Client;

namespace VirtualDevices.PowerShell.Commands.Xenstore;

/// <summary>
/// <para type="synopsis">Sets the permissions of xenstore nodes, in xenstore-chmod notation.</para>
/// </summary>
[Cmdlet(VerbsCommon.Set, "XenstorePermission", DefaultParameterSetName = PathSet, SupportsShouldProcess = true, HelpUri = "https://github.com/VirtualDevices/VirtualDevices/blob/main/docs/VirtualDevices/Set-XenstorePermission.md")]
[OutputType(typeof(XenstoreItemPermissions))]
public sealed class SetXenstorePermissionCommand : XenstoreCommand
{
    private const string PathSet = "Path";
    private const string LiteralPathSet = "LiteralPath";

    /// <summary>The nodes whose permissions are set; wildcards match existing nodes.</summary>
    [Parameter(Mandatory = true, Position = 0, ParameterSetName = PathSet, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
    [ValidateNotNullOrEmpty]
    [Alias("NodePath")]
    [SupportsWildcards]
    [ArgumentCompleter(typeof(XenstorePathCompleter))]
    public string[] Path { get; set; } = null!;

    /// <summary>The nodes whose permissions are set, as written (no wildcards). Piped items bind their NodePath to -Path: node names never contain wildcard characters.</summary>
    [Parameter(Mandatory = true, ParameterSetName = LiteralPathSet, ValueFromPipelineByPropertyName = true)]
    [ValidateNotNullOrEmpty]
    [Alias("LP")]
    [ArgumentCompleter(typeof(XenstorePathCompleter))]
    public string[] LiteralPath { get; set; } = null!;

    /// <summary>
    /// The permissions: the first entry gives the owner and the access of every other domain, the others the access of
    /// one domain each; n (none), r (read), w (write) or b (both) followed by a domain id, such as 'n0', 'r5'.
    /// </summary>
    [Parameter(Mandatory = true, Position = 1)]
    [ValidateNotNullOrEmpty]
    public string[] Permission { get; set; } = null!;

    /// <summary>Write the permissions as they are after the change.</summary>
    [Parameter]
    public SwitchParameter PassThru { get; set; }

    /// <inheritdoc/>
    protected override void ProcessRecord()
    {
        XenstorePermissions permissions;
        try
        {
            permissions = XenstorePermissions.Parse(Permission.SelectMany(p => p.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries)));
        }
        catch (Exception e) when (ErrorRecords.IsReportable(e))
        {
            ThrowTerminatingError(ErrorRecords.FromException(new ArgumentException(e.Message, nameof(Permission), e), Permission));
            return;
        }

        bool literal = ParameterSetName == LiteralPathSet;
        foreach (string item in literal ? LiteralPath : Path)
        {
            if (!TryResolve(item, literal, out XenstoreClient store, out IReadOnlyList<string> nodes))
            {
                continue;
            }

            foreach (string path in nodes)
            {
                if (!ShouldProcess(path, $"Set permissions to {permissions}"))
                {
                    continue;
                }

                Run(async cancellationToken =>
                {
                    await store.SetPermissionsAsync(path, permissions, cancellationToken).ConfigureAwait(false);
                    if (PassThru)
                    {
                        Emit(new XenstoreItemPermissions(path, await store.GetPermissionsAsync(path, cancellationToken).ConfigureAwait(false)));
                    }
                }, path);
            }
        }
    }
}
