namespace VirtualDevices.PowerShell.Commands.Xenstore;

/// <summary>
/// <para type="synopsis">Gets xenstore nodes: their values and children, optionally with their whole subtree.</para>
/// </summary>
[Cmdlet(VerbsCommon.Get, "XenstoreItem", DefaultParameterSetName = PathSet, HelpUri = "https://github.com/VirtualDevices/VirtualDevices/blob/main/docs/VirtualDevices/Get-XenstoreItem.md")]
[OutputType(typeof(XenstoreItem))]
public sealed class GetXenstoreItemCommand : XenstorePathCommand
{
    /// <summary>Also get every node below each path, depth first, like xenstore-ls.</summary>
    [Parameter]
    public SwitchParameter Recurse { get; set; }

    /// <summary>With -Recurse, how many levels below each path to include (default: all; 0 for none).</summary>
    [Parameter]
    [ValidateRange(0, 1000)]
    public int Depth { get; set; } = 1000;

    /// <inheritdoc/>
    protected override void ProcessRecord()
    {
        ForEachNode((store, path) =>
        {
            Run(async cancellationToken =>
            {
                Emit(await store.GetItemAsync(path, cancellationToken).ConfigureAwait(false));
                if (Recurse && Depth > 0)
                {
                    await foreach (XenstoreItem child in store.GetChildItemsAsync(path, Depth - 1, cancellationToken).ConfigureAwait(false))
                    {
                        await EmitAsync(child).ConfigureAwait(false);
                    }
                }
            }, path);
        });
    }
}
