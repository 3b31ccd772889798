namespace VirtualDevices.Block;

/// <summary>One run of a device's allocation map, as a pipeline object (what <c>nbdinfo --map</c> prints).</summary>
/// <param name="Device">The device's name.</param>
/// <param name="Sector">The first sector of the run.</param>
/// <param name="Count">The number of sectors.</param>
/// <param name="SectorSize">Bytes per sector.</param>
/// <param name="Flags">Hole and zero flags.</param>
public sealed record BlockAllocationExtent(string Device, long Sector, long Count, int SectorSize, BlockExtentFlags Flags)
{
    /// <summary>The byte offset of the run.</summary>
    public long Offset => Sector * SectorSize;

    /// <summary>The length of the run in bytes.</summary>
    public long Length => Count * SectorSize;

    /// <summary>"data", "hole", "zero" or "hole,zero", as nbdinfo describes runs.</summary>
    public string Description => Flags switch
    {
        BlockExtentFlags.Data => "data",
        BlockExtentFlags.Hole => "hole",
        BlockExtentFlags.Zero => "zero",
        _ => "hole,zero",
    };
}
