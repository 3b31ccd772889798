namespace VirtualDevices.PowerShell.Commands.Xenstore;

/// <summary>
/// <para type="synopsis">Removes xenstore nodes; a node with children needs -Recurse.</para>
/// </summary>
[Cmdlet(VerbsCommon.Remove, "XenstoreItem", DefaultParameterSetName = PathSet, SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium, HelpUri = "https://github.com/VirtualDevices/VirtualDevices/blob/main/docs/VirtualDevices/Remove-XenstoreItem.md")]
[OutputType(typeof(void))]
public sealed class RemoveXenstoreItemCommand : XenstorePathCommand
{
    /// <summary>Remove nodes that have children, with all their descendants.</summary>
    [Parameter]
    public SwitchParameter Recurse { get; set; }

    /// <inheritdoc/>
    protected override void ProcessRecord()
    {
        ForEachNode((store, path) =>
        {
            if (!ShouldProcess(path, Recurse ? "Remove node and its subtree" : "Remove node"))
            {
                return;
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
        });
    }
}
