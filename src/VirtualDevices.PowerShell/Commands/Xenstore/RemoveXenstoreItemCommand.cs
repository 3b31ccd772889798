using System.Management.Automation;
using VirtualDevices.PowerShell.Infrastructure;
using VirtualDevices.Xen.Xenstore;
using VirtualDevices.Xen.Xenstore.Client;

namespace VirtualDevices.PowerShell.Commands.Xenstore;

/// <summary>
/// <para type="synopsis">Removes xenstore nodes; a node with children needs -Recurse.</para>
/// </summary>
[Cmdlet(VerbsCommon.Remove, "XenstoreItem", DefaultParameterSetName = PathSet, SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium, HelpUri = "https://github.com/VirtualDevices/VirtualDevices/blob/main/docs/VirtualDevices/Remove-XenstoreItem.md")]
[OutputType(typeof(void))]
public sealed class RemoveXenstoreItemCommand : XenstoreCommand
{
    private const string PathSet = "Path";
    private const string LiteralPathSet = "LiteralPath";

    /// <summary>The nodes to remove; wildcards match existing nodes.</summary>
    [Parameter(Mandatory = true, Position = 0, ParameterSetName = PathSet, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
    [ValidateNotNullOrEmpty]
    [Alias("NodePath")]
    [SupportsWildcards]
    [ArgumentCompleter(typeof(XenstorePathCompleter))]
    public string[] Path { get; set; } = null!;

    /// <summary>The nodes to remove, as written (no wildcards). Piped items bind their NodePath to -Path: node names never contain wildcard characters.</summary>
    [Parameter(Mandatory = true, ParameterSetName = LiteralPathSet, ValueFromPipelineByPropertyName = true)]
    [ValidateNotNullOrEmpty]
    [Alias("LP")]
    [ArgumentCompleter(typeof(XenstorePathCompleter))]
    public string[] LiteralPath { get; set; } = null!;

    /// <summary>Remove nodes that have children, with all their descendants.</summary>
    [Parameter]
    public SwitchParameter Recurse { get; set; }

    /// <inheritdoc/>
    protected override void ProcessRecord()
    {
        bool literal = ParameterSetName == LiteralPathSet;
        foreach (string item in literal ? LiteralPath : Path)
        {
            if (!TryResolve(item, literal, out XenstoreClient store, out IReadOnlyList<string> nodes))
            {
                continue;
            }

            foreach (string path in nodes)
            {
                if (!ShouldProcess(path, Recurse ? "Remove node and its subtree" : "Remove node"))
                {
                    continue;
                }

                Run(async cancellationToken =>
                {
                    await store.RunInTransactionAsync(async (tx, ct) =>
                    {
                        IReadOnlyList<string> children = await tx.ListAsync(path, ct).ConfigureAwait(false);
                        if (children.Count > 0 && !Recurse)
                        {
                            throw new DeviceException(DeviceErrorIds.Xenstore.ItemHasChildren, DeviceErrorCategory.InvalidOperation,
                                $"xenstore node '{path}' has {children.Count} children; use -Recurse to remove them too.", XenstoreException.XenstoreDeviceName);
                        }

                        await tx.RemoveAsync(path, ct).ConfigureAwait(false);
                    }, cancellationToken: cancellationToken).ConfigureAwait(false);
                }, path);
            }
        }
    }
}
