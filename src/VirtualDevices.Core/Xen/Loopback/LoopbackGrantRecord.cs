namespace VirtualDevices.Xen.Loopback;

/// <summary>One grant the loopback hypervisor tracks: a frame of the granter's arena, given to one domain.</summary>
internal sealed class LoopbackGrantRecord(uint reference, ushort granter, ushort grantee, uint frame, bool readOnly)
{
    public uint Reference { get; } = reference;

    public ushort Granter { get; } = granter;

    public ushort Grantee { get; } = grantee;

    public uint Frame { get; } = frame;

    public bool ReadOnly { get; } = readOnly;

    /// <summary>How many maps of the grantee hold it now.</summary>
    public int MapCount { get; set; }

    /// <summary>Ended by the granter while mapped: no new maps; released when the count drops to 0.</summary>
    public bool Ending { get; set; }
}
