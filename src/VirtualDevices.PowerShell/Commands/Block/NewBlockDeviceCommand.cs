namespace VirtualDevices.PowerShell.Commands.Block;

/// <summary>
/// <para type="synopsis">Creates a block device: a RAM disk, or a new sparse disk image, open for the session.</para>
/// </summary>
[Cmdlet(VerbsCommon.New, "BlockDevice", DefaultParameterSetName = MemorySet, SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Low, HelpUri = "https://github.com/VirtualDevices/VirtualDevices/blob/main/docs/VirtualDevices/New-BlockDevice.md")]
[OutputType(typeof(MemoryBlockDevice), typeof(FileBlockDevice))]
public sealed class NewBlockDeviceCommand : AsyncCmdlet
{
    private const string MemorySet = "Memory";
    private const string ImageSet = "Image";

    /// <summary>Size in bytes (a whole number of sectors); accepts 64MB, 1GB.</summary>
    [Parameter(Mandatory = true, Position = 0, ParameterSetName = MemorySet)]
    [Parameter(Mandatory = true, Position = 1, ParameterSetName = ImageSet)]
    [ValidateRange(1, long.MaxValue)]
    public long Size { get; set; }

    /// <summary>Create a sparse disk image at this path (it must not exist) instead of a RAM disk.</summary>
    [Parameter(Mandatory = true, Position = 0, ParameterSetName = ImageSet)]
    [ValidateNotNullOrEmpty]
    public string Path { get; set; } = null!;

    /// <summary>The device's name in the session (default memoryN or fileN).</summary>
    [Parameter]
    [ValidateHostName]
    public string? Name { get; set; }

    /// <summary>Bytes per sector (default 512).</summary>
    [Parameter]
    [ValidateSet("512", "1024", "2048", "4096")]
    public int SectorSize { get; set; } = 512;

    /// <inheritdoc/>
    protected override void ProcessRecord()
    {
        string? path = ParameterSetName == ImageSet ? GetUnresolvedProviderPathFromPSPath(Path) : null;
        string target = path ?? "RAM disk";
        if (!ShouldProcess(target, $"Create a {Size}-byte block device"))
        {
            return;
        }

        Run(_ =>
        {
            // The host checks the name before creating anything, so a taken name leaves no image file behind.
            BlockDevice device = path is null
                ? SessionHost.AddDevice("memory", Name, name => new MemoryBlockDevice(CheckedSize(), SectorSize, name))
                : SessionHost.AddDevice("file", Name, name => FileBlockDevice.Create(path, Size, new FileBlockDeviceOptions { Name = name, SectorSize = SectorSize }));
            Emit(device);
            return Task.CompletedTask;
        }, target);
    }

    private long CheckedSize() =>
        BlockRange.CheckAligned(Name ?? "memory", "size", Size, SectorSize) is { } misaligned ? throw misaligned : Size;
}
