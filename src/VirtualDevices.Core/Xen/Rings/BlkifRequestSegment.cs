namespace VirtualDevices.Xen.Rings;

/// <summary><c>struct blkif_request_segment</c> (<c>xen/io/blkif.h</c>): one granted page of a block request.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct BlkifRequestSegment
{
    /// <summary><c>gref</c>: the grant of the I/O page.</summary>
    public uint Gref;

    /// <summary><c>first_sect</c>: the first sector in the page to transfer (inclusive).</summary>
    public byte FirstSector;

    /// <summary><c>last_sect</c>: the last sector in the page to transfer (inclusive).</summary>
    public byte LastSector;
}
