namespace VirtualDevices.PowerShell.Commands.Block;

/// <summary>
/// <para type="synopsis">Gets the block devices open in the session.</para>
/// </summary>
[Cmdlet(VerbsCommon.Get, "BlockDevice", HelpUri = "https://github.com/VirtualDevices/VirtualDevices/blob/main/docs/VirtualDevices/Get-BlockDevice.md")]
[OutputType(typeof(IBlockDevice))]
public sealed class GetBlockDeviceCommand : PSCmdlet
{
    /// <summary>Names of devices to get; wildcards are allowed (default: all).</summary>
    [Parameter(Position = 0, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
    [SupportsWildcards]
    [ArgumentCompleter(typeof(DeviceNameCompleter))]
    public string[]? Name { get; set; }

    /// <inheritdoc/>
    protected override void ProcessRecord()
    {
        IDevice[] devices = ModuleSession.Current.Host.Devices.Where(d => d.Kind == DeviceKind.Block).ToArray();
        foreach (string pattern in Name ?? ["*"])
        {
            var wildcard = new WildcardPattern(pattern, WildcardOptions.IgnoreCase);
            IDevice[] matches = devices.Where(d => wildcard.IsMatch(d.Name)).ToArray();
            if (matches.Length == 0 && !WildcardPattern.ContainsWildcardCharacters(pattern))
            {
                WriteError(ErrorRecords.FromException(new DeviceNotFoundException(pattern), pattern));
            }

            WriteObject(matches, enumerateCollection: true);
        }
    }
}
