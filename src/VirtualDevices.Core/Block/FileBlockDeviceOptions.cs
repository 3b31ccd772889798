namespace VirtualDevices.Block;

/// <summary>How to open a file-backed block device.</summary>
public sealed record FileBlockDeviceOptions
{
    /// <summary>Open read-only: writes, trims and zeroing are refused.</summary>
    public bool ReadOnly { get; init; }

    /// <summary>Bypass the page cache (O_DIRECT on Linux, F_NOCACHE on macOS). Unaligned buffers are bounced.</summary>
    public bool Direct { get; init; }

    /// <summary>
    /// Bytes per sector. Null means 512 for a regular file and the device's logical sector size for a
    /// block-special file.
    /// </summary>
    public int? SectorSize { get; init; }

    /// <summary>
    /// Open without qemu's advisory image lock (see <c>ImageLock</c>): neither check that no one else writes the
    /// image nor tell others that this device does. For recovery only: two writers corrupt an image.
    /// </summary>
    public bool NoLock { get; init; }

    /// <summary>The device's name, or null for <c>fileN</c>.</summary>
    public string? Name { get; init; }
}
