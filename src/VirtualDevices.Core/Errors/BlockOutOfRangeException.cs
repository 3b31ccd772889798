namespace VirtualDevices;

/// <summary>A request reaches past the end of a block device (or starts before its beginning).</summary>
public sealed class BlockOutOfRangeException : DeviceException
{
    /// <summary>Creates the error.</summary>
    /// <param name="deviceName">The device concerned.</param>
    /// <param name="sector">The first sector of the request.</param>
    /// <param name="count">The number of sectors of the request.</param>
    /// <param name="sectorCount">The size of the device in sectors.</param>
    public BlockOutOfRangeException(string? deviceName, long sector, long count, long sectorCount)
        : base(DeviceErrorIds.Block.OutOfRange, DeviceErrorCategory.InvalidArgument,
               $"Sectors {sector}..{sector + count - 1} ({count} sectors) are outside device '{deviceName}' of {sectorCount} sectors.",
               deviceName)
    {
        Sector = sector;
        Count = count;
        SectorCount = sectorCount;
    }

    /// <summary>The first sector of the refused request.</summary>
    public long Sector { get; }

    /// <summary>The number of sectors of the refused request.</summary>
    public long Count { get; }

    /// <summary>The size of the device in sectors.</summary>
    public long SectorCount { get; }
}
