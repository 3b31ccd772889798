namespace VirtualDevices.Nbd;

/// <summary>The transmission flags a server sends for an export: what it may be asked to do.</summary>
[Flags]
public enum NbdTransmissionFlags : ushort
{
    /// <summary>No flags (never valid on the wire: <see cref="HasFlags"/> is always set).</summary>
    None = 0,
    /// <summary>Always set.</summary>
    HasFlags = 1 << 0,
    /// <summary>The export refuses writes.</summary>
    ReadOnly = 1 << 1,
    /// <summary>NBD_CMD_FLUSH is supported.</summary>
    SendFlush = 1 << 2,
    /// <summary>The FUA command flag is supported.</summary>
    SendFua = 1 << 3,
    /// <summary>The export behaves like a rotational disk.</summary>
    Rotational = 1 << 4,
    /// <summary>NBD_CMD_TRIM is supported.</summary>
    SendTrim = 1 << 5,
    /// <summary>NBD_CMD_WRITE_ZEROES (and its NO_HOLE flag) is supported.</summary>
    SendWriteZeroes = 1 << 6,
    /// <summary>The DF (do not fragment) read flag is supported.</summary>
    SendDoNotFragment = 1 << 7,
    /// <summary>Several connections to the export see each other's writes after a flush.</summary>
    CanMultiConnection = 1 << 8,
    /// <summary>The experimental resize extension.</summary>
    SendResize = 1 << 9,
    /// <summary>NBD_CMD_CACHE is supported.</summary>
    SendCache = 1 << 10,
    /// <summary>The FAST_ZERO flag of write-zeroes is supported.</summary>
    SendFastZero = 1 << 11,
    /// <summary>Block status requests may carry a payload (extended headers only).</summary>
    BlockStatusPayload = 1 << 12,
}
