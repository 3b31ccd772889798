namespace VirtualDevices.Block;

/// <summary>A run of sectors in one allocation state.</summary>
/// <param name="Sector">The first sector.</param>
/// <param name="Count">The number of sectors.</param>
/// <param name="Flags">Hole and zero flags.</param>
public readonly record struct BlockExtent(long Sector, long Count, BlockExtentFlags Flags);
