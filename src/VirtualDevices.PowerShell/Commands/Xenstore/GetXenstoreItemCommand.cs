using System.Management.Automation;
using VirtualDevices.PowerShell.Infrastructure;
using VirtualDevices.Xen.Xenstore;
using VirtualDevices.Xen.Xenstore.Client;

namespace VirtualDevices.PowerShell.Commands.Xenstore;

/// <summary>
/// <para type="synopsis">Gets xenstore nodes: their values and children, optionally with their whole subtree.</para>
/// </summary>
[Cmdlet(VerbsCommon.Get, "XenstoreItem", DefaultParameterSetName = PathSet, HelpUri = "https://github.com/VirtualDevices/VirtualDevices/blob/main/docs/VirtualDevices/Get-XenstoreItem.md")]
[OutputType(typeof(XenstoreItem))]
public sealed class GetXenstoreItemCommand : XenstoreCommand
{
    private const string PathSet = "Path";
    private const string LiteralPathSet = "LiteralPath";

    /// <summary>The nodes to read: absolute paths, paths relative to the connection's domain, or Xs: paths; wildcards match existing nodes.</summary>
    [Parameter(Mandatory = true, Position = 0, ParameterSetName = PathSet, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
    [ValidateNotNullOrEmpty]
    [Alias("NodePath")]
    [SupportsWildcards]
    [ArgumentCompleter(typeof(XenstorePathCompleter))]
    public string[] Path { get; set; } = null!;

    /// <summary>The nodes to read, as written (no wildcards). Piped items bind their NodePath to -Path: node names never contain wildcard characters.</summary>
    [Parameter(Mandatory = true, ParameterSetName = LiteralPathSet, ValueFromPipelineByPropertyName = true)]
    [ValidateNotNullOrEmpty]
    [Alias("LP")]
    [ArgumentCompleter(typeof(XenstorePathCompleter))]
    public string[] LiteralPath { get; set; } = null!;

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
        bool literal = ParameterSetName == LiteralPathSet;
        foreach (string item in literal ? LiteralPath : Path)
        {
            if (!TryResolve(item, literal, out XenstoreClient store, out IReadOnlyList<string> nodes))
            {
                continue;
            }

            foreach (string path in nodes)
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
            }
        }
    }
}
