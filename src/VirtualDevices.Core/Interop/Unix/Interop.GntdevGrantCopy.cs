namespace VirtualDevices.Interop;

internal static partial class Unix
{
    /// <summary>
    /// <c>struct ioctl_gntdev_grant_copy</c> (<c>xen/gntdev.h</c>; checked by the C header test): <c>count</c>
    /// segments at <c>segments</c>, each copied by Xen's GNTTABOP_copy.
    /// </summary>
    [StructLayout(LayoutKind.Sequential)]
    internal unsafe struct GntdevGrantCopy
    {
        public uint Count;
        public GntdevGrantCopySegment* Segments;
    }

    /// <summary>
    /// <c>struct gntdev_grant_copy_segment</c>: a source and a destination, each either a local address (<c>virt</c>)
    /// or a foreign grant (<c>foreign</c>: ref, offset in its page, domain), which <see cref="Flags"/> tells apart
    /// (<see cref="GntCopy"/>); <see cref="Status"/> is Xen's GNTST_* for this segment once the ioctl returned 0.
    /// </summary>
    [StructLayout(LayoutKind.Explicit, Size = 24)]
    internal unsafe struct GntdevGrantCopySegment
    {
        [FieldOffset(0)]
        public void* SourceVirt;

        [FieldOffset(0)]
        public uint SourceRef;

        [FieldOffset(4)]
        public ushort SourceOffset;

        [FieldOffset(6)]
        public ushort SourceDomid;

        [FieldOffset(8)]
        public void* DestVirt;

        [FieldOffset(8)]
        public uint DestRef;

        [FieldOffset(12)]
        public ushort DestOffset;

        [FieldOffset(14)]
        public ushort DestDomid;

        [FieldOffset(16)]
        public ushort Len;

        [FieldOffset(18)]
        public ushort Flags;

        [FieldOffset(20)]
        public short Status;
    }

    /// <summary>The GNTCOPY_* flags of a copy segment (<c>xen/grant_table.h</c>).</summary>
    internal static class GntCopy
    {
        /// <summary>The source is a foreign grant.</summary>
        internal const ushort GNTCOPY_source_gref = 1;

        /// <summary>The destination is a foreign grant.</summary>
        internal const ushort GNTCOPY_dest_gref = 2;

        /// <summary>GNTST_okay: the segment was copied.</summary>
        internal const short GNTST_okay = 0;
    }
}
