namespace VirtualDevices.Xen.Rings;

/// <summary><c>struct blkif_request</c> (<c>xen/io/blkif.h</c>): a block read, write, flush, barrier or discard.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct BlkifRequest
{
    /// <summary><c>BLKIF_MAX_SEGMENTS_PER_REQUEST</c>.</summary>
    public const int MaxSegments = 11;

    /// <summary><c>BLKIF_OP_READ</c>.</summary>
    public const byte OperationRead = 0;

    /// <summary><c>BLKIF_OP_WRITE</c>.</summary>
    public const byte OperationWrite = 1;

    /// <summary><c>BLKIF_OP_WRITE_BARRIER</c>.</summary>
    public const byte OperationWriteBarrier = 2;

    /// <summary><c>BLKIF_OP_FLUSH_DISKCACHE</c>.</summary>
    public const byte OperationFlushDiskCache = 3;

    /// <summary><c>BLKIF_OP_DISCARD</c>.</summary>
    public const byte OperationDiscard = 5;

    /// <summary><c>BLKIF_OP_INDIRECT</c>.</summary>
    public const byte OperationIndirect = 6;

    /// <summary><c>operation</c>: <c>BLKIF_OP_*</c>.</summary>
    public byte Operation;

    /// <summary><c>nr_segments</c>: how many of <see cref="Segments"/> are used (a peer's value: check it against <see cref="MaxSegments"/>).</summary>
    public byte SegmentCount;

    /// <summary><c>handle</c>: the virtual device (<c>blkif_vdev_t</c>).</summary>
    public ushort Handle;

    /// <summary><c>id</c>: the front's value, echoed in the response.</summary>
    public ulong Id;

    /// <summary><c>sector_number</c>: the first sector on the disk.</summary>
    public ulong SectorNumber;

    /// <summary><c>seg</c>.</summary>
    public BlkifSegments Segments;

    /// <summary>
    /// The number of used segments, or false when <see cref="SegmentCount"/> is more than <see cref="MaxSegments"/>
    /// (a garbage count must not index past the array; 0 is valid for a flush).
    /// </summary>
    public readonly bool TryGetSegmentCount(out int count)
    {
        count = SegmentCount;
        return count <= MaxSegments;
    }
}
