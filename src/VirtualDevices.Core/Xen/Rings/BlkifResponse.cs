namespace VirtualDevices.Xen.Rings;

/// <summary><c>struct blkif_response</c> (<c>xen/io/blkif.h</c>).</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct BlkifResponse
{
    /// <summary><c>BLKIF_RSP_EOPNOTSUPP</c>.</summary>
    public const short StatusNotSupported = -2;

    /// <summary><c>BLKIF_RSP_ERROR</c>.</summary>
    public const short StatusError = -1;

    /// <summary><c>BLKIF_RSP_OKAY</c>.</summary>
    public const short StatusOkay = 0;

    /// <summary><c>id</c>: copied from the request.</summary>
    public ulong Id;

    /// <summary><c>operation</c>: copied from the request.</summary>
    public byte Operation;

    /// <summary><c>status</c>: <c>BLKIF_RSP_*</c>.</summary>
    public short Status;
}
