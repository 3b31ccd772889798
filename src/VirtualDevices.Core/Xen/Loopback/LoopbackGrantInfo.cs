namespace VirtualDevices.Xen.Loopback;

/// <summary>A grant tracked by a loopback hypervisor, as it stood when asked.</summary>
/// <param name="Granter">The granting domain.</param>
/// <param name="Reference">Its grant reference.</param>
/// <param name="Grantee">The domain it is granted to.</param>
/// <param name="Frame">The page of the granter's arena.</param>
/// <param name="ReadOnly">Whether the grantee may only read it.</param>
/// <param name="MapCount">How many maps of the grantee hold it.</param>
/// <param name="Ending">Ended by the granter while still mapped: released once unmapped.</param>
public sealed record LoopbackGrantInfo(ushort Granter, uint Reference, ushort Grantee, uint Frame, bool ReadOnly, int MapCount, bool Ending);
