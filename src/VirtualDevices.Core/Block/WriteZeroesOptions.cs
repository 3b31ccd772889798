namespace VirtualDevices.Block;

/// <summary>Options of a write-zeroes request.</summary>
[Flags]
public enum WriteZeroesOptions
{
    /// <summary>Zero the range; the device may deallocate it (punch a hole).</summary>
    None = 0,
    /// <summary>Keep the range allocated (NBD's NO_HOLE).</summary>
    NoHole = 1,
    /// <summary>Fail with <see cref="DeviceUnimplementedException"/> rather than zero slowly (NBD's FAST_ZERO).</summary>
    FastOnly = 2,
    /// <summary>Force unit access, as for writes.</summary>
    ForceUnitAccess = 4,
}
