using System.Text;

namespace VirtualDevices.PowerShell.Commands.Xenstore;

/// <summary>
/// <para type="synopsis">Creates a xenstore node, empty or with a value; an existing node is an error unless -Force.</para>
/// </summary>
[Cmdlet(VerbsCommon.New, "XenstoreItem", SupportsShouldProcess = true, HelpUri = "https://github.com/VirtualDevices/VirtualDevices/blob/main/docs/VirtualDevices/New-XenstoreItem.md")]
[OutputType(typeof(XenstoreItem))]
public sealed class NewXenstoreItemCommand : XenstoreCommand
{
    /// <summary>The nodes to create; missing parents are created too.</summary>
    [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
    [ValidateNotNullOrEmpty]
    [Alias("NodePath")]
    [ArgumentCompleter(typeof(XenstorePathCompleter))]
    public string[] Path { get; set; } = null!;

    /// <summary>The value of the new nodes (default: empty).</summary>
    [Parameter(Position = 1)]
    [AllowEmptyString]
    public string? Value { get; set; }

    /// <summary>Overwrite the value of a node that already exists instead of failing.</summary>
    [Parameter]
    public SwitchParameter Force { get; set; }

    /// <inheritdoc/>
    protected override void ProcessRecord()
    {
        foreach (string item in Path)
        {
            if (!TryLocate(item, out XenstoreClient store, out string path))
            {
                continue;
            }

            if (!ShouldProcess(path, Value is null ? "Create node" : "Create node with a value"))
            {
                continue;
            }

            Run(async cancellationToken =>
            {
                // The existence check and the creation run in one transaction, so a node created by someone else in
                // between is reported rather than silently overwritten.
                XenstoreItem created = await store.RunInTransactionAsync(async (tx, ct) =>
                {
                    bool exists = await tx.ExistsAsync(path, ct).ConfigureAwait(false);
                    if (exists && !Force)
                    {
                        throw new XenstoreException("EEXIST", $"xenstore node '{path}' already exists; use -Force to overwrite its value.", path);
                    }

                    if (Value is not null)
                    {
                        await tx.WriteAsync(path, Encoding.UTF8.GetBytes(Value), ct).ConfigureAwait(false);
                    }
                    else if (!exists)
                    {
                        await tx.MakeDirectoryAsync(path, ct).ConfigureAwait(false);
                    }

                    return await tx.GetItemAsync(path, ct).ConfigureAwait(false);
                }, cancellationToken: cancellationToken).ConfigureAwait(false);
                Emit(created);
            }, path);
        }
    }
}
