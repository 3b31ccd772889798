namespace VirtualDevices.Block;

/// <summary>The optional operations a block device supports beyond read and write.</summary>
[Flags]
public enum BlockFeatures
{
    /// <summary>Read and write only.</summary>
    None = 0,
    /// <summary>Flush makes completed writes durable.</summary>
    Flush = 1,
    /// <summary>A write can be made durable on its own (force unit access).</summary>
    ForceUnitAccess = 2,
    /// <summary>Ranges can be discarded (trim, punch-hole).</summary>
    Trim = 4,
    /// <summary>Ranges can be zeroed without sending zero bytes.</summary>
    WriteZeroes = 8,
    /// <summary>Zeroing is cheap, and <see cref="WriteZeroesOptions.FastOnly"/> is honoured.</summary>
    FastZero = 16,
    /// <summary>The device reports which ranges are allocated or read as zero (<see cref="IBlockDevice.GetAllocationAsync"/>).</summary>
    AllocationStatus = 32,
    /// <summary>The device may serve several connections consistently (NBD multi-conn).</summary>
    MultiConnection = 64,
}
