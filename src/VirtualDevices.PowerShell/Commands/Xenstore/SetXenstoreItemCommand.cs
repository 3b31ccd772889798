using System.Text;

namespace VirtualDevices.PowerShell.Commands.Xenstore;

/// <summary>
/// <para type="synopsis">Writes the value of a xenstore node, creating it (and its parents) if needed.</para>
/// </summary>
[Cmdlet(VerbsCommon.Set, "XenstoreItem", DefaultParameterSetName = TextSet, SupportsShouldProcess = true, HelpUri = "https://github.com/VirtualDevices/VirtualDevices/blob/main/docs/VirtualDevices/Set-XenstoreItem.md")]
[OutputType(typeof(XenstoreItem))]
public sealed class SetXenstoreItemCommand : XenstoreCommand
{
    private const string TextSet = "Text";
    private const string BytesSet = "Bytes";

    /// <summary>The node to write.</summary>
    [Parameter(Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true)]
    [ValidateNotNullOrEmpty]
    [Alias("NodePath")]
    [ArgumentCompleter(typeof(XenstorePathCompleter))]
    public string Path { get; set; } = null!;

    /// <summary>The value, written as UTF-8; binds the Value property of piped items.</summary>
    [Parameter(Mandatory = true, Position = 1, ParameterSetName = TextSet, ValueFromPipelineByPropertyName = true)]
    [AllowEmptyString]
    public string Value { get; set; } = null!;

    /// <summary>The value as raw bytes.</summary>
    [Parameter(Mandatory = true, ParameterSetName = BytesSet)]
    [ValidateNotNull]
    public byte[] Bytes { get; set; } = null!;

    /// <summary>Write the node as it is after the change.</summary>
    [Parameter]
    public SwitchParameter PassThru { get; set; }

    /// <inheritdoc/>
    protected override void ProcessRecord()
    {
        if (!TryLocate(Path, out XenstoreClient store, out string path))
        {
            return;
        }

        byte[] value = ParameterSetName == BytesSet ? Bytes : Encoding.UTF8.GetBytes(Value);
        if (!ShouldProcess(path, $"Set value ({value.Length} bytes)"))
        {
            return;
        }

        Run(async cancellationToken =>
        {
            await store.WriteAsync(path, value, cancellationToken).ConfigureAwait(false);
            if (PassThru)
            {
                Emit(await store.GetItemAsync(path, cancellationToken).ConfigureAwait(false));
            }
        }, path);
    }
}
