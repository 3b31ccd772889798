namespace VirtualDevices.Block;

/// <summary>Options of one write.</summary>
[Flags]
public enum BlockWriteOptions
{
    /// <summary>A plain write: durable after the next flush.</summary>
    None = 0,
    /// <summary>Force unit access: durable when the write completes. Needs <see cref="BlockFeatures.ForceUnitAccess"/>.</summary>
    ForceUnitAccess = 1,
}
