namespace VirtualDevices.Block;

/// <summary>What <c>Get-BlockDeviceInfo</c> shows: a device's identity with its geometry and capabilities, flattened.</summary>
/// <remarks>
/// Display only, so it lives in the PowerShell layer; it keeps the namespace it had in the core so that the type name
/// users see (format views, PSTypeNames, <c>-is</c> tests in scripts) stays <c>VirtualDevices.Block.BlockDeviceDetails</c>.
/// </remarks>
public sealed class BlockDeviceDetails
{
    /// <summary>Describes a device as it is now.</summary>
    /// <param name="device">The device.</param>
    public BlockDeviceDetails(IBlockDevice device)
    {
        ArgumentNullException.ThrowIfNull(device);
        BlockDeviceInfo info = device.Info;
        Device = device.Name;
        Driver = device.Driver;
        Location = device.Location;
        IsConnected = device.IsConnected;
        SectorSize = info.SectorSize;
        SectorCount = info.SectorCount;
        ReadOnly = info.ReadOnly;
        Features = info.Features;
        PreferredTransferSize = info.PreferredTransferSize;
        MaximumTransferSize = info.MaximumTransferSize;
        TrailingBytes = info.TrailingBytes;
    }

    /// <summary>The device's name.</summary>
    public string Device { get; }

    /// <summary>The driver.</summary>
    public string Driver { get; }

    /// <summary>The path or URI.</summary>
    public string Location { get; }

    /// <summary>False once disconnected.</summary>
    public bool IsConnected { get; }

    /// <summary>Bytes per sector.</summary>
    public int SectorSize { get; }

    /// <summary>Size in sectors.</summary>
    public long SectorCount { get; }

    /// <summary>Size in bytes.</summary>
    public long SizeBytes => SectorCount * SectorSize;

    /// <summary>True when writes are refused.</summary>
    public bool ReadOnly { get; }

    /// <summary>Optional operations supported.</summary>
    public BlockFeatures Features { get; }

    /// <summary>True when flush is supported.</summary>
    public bool CanFlush => Features.HasFlag(BlockFeatures.Flush);

    /// <summary>True when force-unit-access writes are supported.</summary>
    public bool CanFua => Features.HasFlag(BlockFeatures.ForceUnitAccess);

    /// <summary>True when trim is supported.</summary>
    public bool CanTrim => Features.HasFlag(BlockFeatures.Trim);

    /// <summary>True when write-zeroes is supported.</summary>
    public bool CanWriteZeroes => Features.HasFlag(BlockFeatures.WriteZeroes);

    /// <summary>The best transfer size, or 0.</summary>
    public int PreferredTransferSize { get; }

    /// <summary>The largest transfer, or 0 for no limit.</summary>
    public int MaximumTransferSize { get; }

    /// <summary>Bytes at the end of the file or export beyond the last whole sector, which the device cannot reach (0 normally).</summary>
    public int TrailingBytes { get; }
}
