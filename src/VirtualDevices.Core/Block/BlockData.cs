namespace VirtualDevices.Block;

/// <summary>A run of sectors read from a block device, as a pipeline object (and input to a write).</summary>
public sealed class BlockData
{
    /// <summary>Creates the object; <paramref name="data"/> is kept, not copied.</summary>
    /// <param name="device">The device's name.</param>
    /// <param name="sector">The first sector.</param>
    /// <param name="sectorSize">Bytes per sector.</param>
    /// <param name="data">The bytes, a whole number of sectors.</param>
    public BlockData(string device, long sector, int sectorSize, byte[] data)
    {
        ArgumentNullException.ThrowIfNull(data);
        Device = device;
        Sector = sector;
        SectorSize = sectorSize;
        Data = data;
    }

    /// <summary>The device's name.</summary>
    public string Device { get; }

    /// <summary>The first sector.</summary>
    public long Sector { get; }

    /// <summary>Bytes per sector.</summary>
    public int SectorSize { get; }

    /// <summary>The byte offset of the first sector.</summary>
    public long Offset => Sector * SectorSize;

    /// <summary>The number of bytes.</summary>
    public int Length => Data.Length;

    /// <summary>The number of sectors.</summary>
    public long Count => Data.Length / SectorSize;

    /// <summary>The bytes.</summary>
    public byte[] Data { get; }

    /// <inheritdoc/>
    public override string ToString() => $"{Device} sector {Sector} ({Length} bytes)";
}
