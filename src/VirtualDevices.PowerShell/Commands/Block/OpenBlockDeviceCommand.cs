namespace VirtualDevices.PowerShell.Commands.Block;

/// <summary>
/// <para type="synopsis">Opens a disk image or block-special file as a block device for the rest of the session.</para>
/// </summary>
[Cmdlet(VerbsCommon.Open, "BlockDevice", HelpUri = "https://github.com/VirtualDevices/VirtualDevices/blob/main/docs/VirtualDevices/Open-BlockDevice.md")]
[OutputType(typeof(FileBlockDevice))]
public sealed class OpenBlockDeviceCommand : AsyncCmdlet
{
    /// <summary>The disk image or block-special file to open.</summary>
    [Parameter(Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true)]
    [Alias("FullName")]
    [ValidateNotNullOrEmpty]
    public string Path { get; set; } = null!;

    /// <summary>The device's name in the session (default fileN).</summary>
    [Parameter]
    [ValidateHostName]
    public string? Name { get; set; }

    /// <summary>Open read-only: writes, trims and zeroing are refused.</summary>
    [Parameter]
    public SwitchParameter ReadOnly { get; set; }

    /// <summary>
    /// Open without the advisory image lock qemu also takes, so even an image another writer (qemu-nbd, QEMU, another
    /// device of this module) has open; for recovery only, as two writers corrupt an image.
    /// </summary>
    [Parameter]
    public SwitchParameter NoLock { get; set; }

    /// <summary>Bypass the page cache (O_DIRECT on Linux, F_NOCACHE on macOS).</summary>
    [Parameter]
    public SwitchParameter Direct { get; set; }

    /// <summary>Bytes per sector (default 512 for images, the logical sector size for devices).</summary>
    [Parameter]
    [ValidateSet("512", "1024", "2048", "4096")]
    public int SectorSize { get; set; }

    /// <inheritdoc/>
    protected override void ProcessRecord()
    {
        string path = GetUnresolvedProviderPathFromPSPath(Path);
        var options = new FileBlockDeviceOptions
        {
            Name = Name,
            ReadOnly = ReadOnly,
            Direct = Direct,
            NoLock = NoLock,
            SectorSize = MyInvocation.BoundParameters.ContainsKey(nameof(SectorSize)) ? SectorSize : null,
        };
        Run(_ =>
        {
            // The host checks the name before opening: a taken name is the user's first mistake to hear about, and
            // opening first could report the image lock of the device that already has the name instead.
            FileBlockDevice device = SessionHost.AddDevice("file", Name, name => FileBlockDevice.Open(path, options with { Name = name }));
            if (device.Info.TrailingBytes > 0)
            {
                EmitWarning(BlockDeviceLease.TrailingBytesWarning(device));
            }

            Emit(device);
            return Task.CompletedTask;
        }, path);
    }
}
