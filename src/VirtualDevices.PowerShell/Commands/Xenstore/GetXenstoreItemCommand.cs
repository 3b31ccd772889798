using System.Management.Automation;
using VirtualDevices.Xen.Xenstore;
using VirtualDevices.PowerShell.Infrastructure;

namespace VirtualDevices.PowerShell.Commands.Xenstore;

/// <summary>
/// <para type="synopsis">Gets xenstore nodes: their values and children, optionally with their whole subtree.</para>
/// </summary>
[Cmdlet(VerbsCommon.Get, "XenstoreItem", HelpUri = "https://github.com/VirtualDevices/VirtualDevices/blob/main/docs/VirtualDevices/Get-XenstoreItem.md")]
[OutputType(typeof(XenstoreItem))]
public sealed class GetXenstoreItemCommand : XenstoreCommand
{
    /// <summary>The nodes to read: absolute paths, paths relative to the connection's domain, or Xs: paths.</summary>
    [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
    [ValidateNotNullOrEmpty]
    [Alias("NodePath")]
    public string[] Path { get; set; } = null!;

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
        foreach (string item in Path)
        {
            if (!TryLocate(item, out XenstoreClient store, out string path))
            {
                continue;
            }

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
        }
    }
}
