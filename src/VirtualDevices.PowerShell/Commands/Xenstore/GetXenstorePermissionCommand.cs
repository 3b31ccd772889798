using System.Management.Automation;
using VirtualDevices.PowerShell.Infrastructure;
using VirtualDevices.Xen.Xenstore;
using VirtualDevices.Xen.Xenstore.Client;

namespace VirtualDevices.PowerShell.Commands.Xenstore;

/// <summary>
/// <para type="synopsis">Gets the permissions of xenstore nodes: owner, default access and per-domain access.</para>
/// </summary>
[Cmdlet(VerbsCommon.Get, "XenstorePermission", DefaultParameterSetName = PathSet, HelpUri = "https://github.com/VirtualDevices/VirtualDevices/blob/main/docs/VirtualDevices/Get-XenstorePermission.md")]
[OutputType(typeof(XenstoreItemPermissions))]
public sealed class GetXenstorePermissionCommand : XenstoreCommand
{
    private const string PathSet = "Path";
    private const string LiteralPathSet = "LiteralPath";

    /// <summary>The nodes whose permissions are read; wildcards match existing nodes.</summary>
    [Parameter(Mandatory = true, Position = 0, ParameterSetName = PathSet, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
    [ValidateNotNullOrEmpty]
    [Alias("NodePath")]
    [SupportsWildcards]
    [ArgumentCompleter(typeof(XenstorePathCompleter))]
    public string[] Path { get; set; } = null!;

    /// <summary>The nodes whose permissions are read, as written (no wildcards). Piped items bind their NodePath to -Path: node names never contain wildcard characters.</summary>
    [Parameter(Mandatory = true, ParameterSetName = LiteralPathSet, ValueFromPipelineByPropertyName = true)]
    [ValidateNotNullOrEmpty]
    [Alias("LP")]
    [ArgumentCompleter(typeof(XenstorePathCompleter))]
    public string[] LiteralPath { get; set; } = null!;

    /// <inheritdoc/>
    protected override void ProcessRecord()
    {
        bool literal = ParameterSetName == LiteralPathSet;
        foreach (string item in literal ? LiteralPath : Path)
        {
            if (TryResolve(item, literal, out XenstoreClient store, out IReadOnlyList<string> nodes))
            {
                foreach (string path in nodes)
                {
                    Run(async cancellationToken =>
                        Emit(new XenstoreItemPermissions(path, await store.GetPermissionsAsync(path, cancellationToken).ConfigureAwait(false))), path);
                }
            }
        }
    }
}
