namespace VirtualDevices.Block;

/// <summary>The geometry and capabilities of a block device.</summary>
public sealed record BlockDeviceInfo
{
    /// <summary>Describes a device.</summary>
    /// <param name="sectorSize">Bytes per sector: a power of two from 1 to 65536; every request is a whole number of sectors.</param>
    /// <param name="sectorCount">Size of the device in sectors.</param>
    /// <param name="readOnly">True when writes, trims and zeroing are refused.</param>
    /// <param name="features">The optional operations supported.</param>
    public BlockDeviceInfo(int sectorSize, long sectorCount, bool readOnly, BlockFeatures features)
    {
        if (sectorSize < 1 || sectorSize > 65536 || (sectorSize & (sectorSize - 1)) != 0)
        {
            throw new ArgumentOutOfRangeException(nameof(sectorSize), sectorSize, "The sector size must be a power of two from 1 to 65536.");
        }

        ArgumentOutOfRangeException.ThrowIfNegative(sectorCount);
        if (sectorCount > long.MaxValue / sectorSize)
        {
            throw new ArgumentOutOfRangeException(nameof(sectorCount), sectorCount, "The device is larger than 2^63 bytes.");
        }

        SectorSize = sectorSize;
        SectorCount = sectorCount;
        ReadOnly = readOnly;
        Features = features;
    }

    /// <summary>Bytes per sector.</summary>
    public int SectorSize { get; init; }

    /// <summary>Size in sectors.</summary>
    public long SectorCount { get; init; }

    /// <summary>Size in bytes.</summary>
    public long SizeBytes => SectorSize * SectorCount;

    /// <summary>True when writes, trims and zeroing are refused.</summary>
    public bool ReadOnly { get; init; }

    /// <summary>The optional operations supported.</summary>
    public BlockFeatures Features { get; init; }

    /// <summary>The transfer size that performs best, in bytes (a multiple of the sector size); 0 when unknown.</summary>
    public int PreferredTransferSize { get; init; }

    /// <summary>The largest single request the device takes, in bytes; 0 for no limit. Larger requests are split.</summary>
    public int MaximumTransferSize { get; init; }

    /// <summary>
    /// Bytes at the end of the underlying file or export that do not fill a whole sector, and so cannot be read or
    /// written through the device (an image of 1000 bytes with 512-byte sectors has 1 sector and 488 such bytes); 0 for
    /// most devices.
    /// </summary>
    public int TrailingBytes { get; init; }

    /// <summary>True when the device supports every feature in <paramref name="features"/>.</summary>
    /// <param name="features">The features to test.</param>
    public bool Supports(BlockFeatures features) => (Features & features) == features;
}
