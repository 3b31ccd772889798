namespace VirtualDevices.Interop;

internal static partial class Unix
{
    /// <summary>
    /// The ioctls of Linux's <c>/dev/xen/gntalloc</c> (<c>xen/gntalloc.h</c> of linux-libc-dev; checked by the C header
    /// test): <c>_IOC(_IOC_NONE, 'G', nr, sizeof(struct))</c>.
    /// </summary>
    internal static class GntallocIoctl
    {
        /// <summary>_IOC(_IOC_NONE, 'G', 5, 24): allocate pages and grant them (<see cref="GntallocAllocGref"/>).</summary>
        internal const nuint IOCTL_GNTALLOC_ALLOC_GREF = 0x00184705;

        /// <summary>_IOC(_IOC_NONE, 'G', 6, 16): give up grants made by ALLOC_GREF (<see cref="GntallocDeallocGref"/>).</summary>
        internal const nuint IOCTL_GNTALLOC_DEALLOC_GREF = 0x00104706;

        /// <summary>_IOC(_IOC_NONE, 'G', 7, 16): what to do when the last local use of a page ends (<see cref="GrantUnmapNotify"/>).</summary>
        internal const nuint IOCTL_GNTALLOC_SET_UNMAP_NOTIFY = 0x00104707;

        /// <summary>The grantee may write the pages; without it the grant is read-only.</summary>
        internal const ushort GNTALLOC_FLAG_WRITABLE = 1;
    }

    /// <summary>
    /// The fixed part of <c>struct ioctl_gntalloc_alloc_gref</c>. The C struct ends in <c>__u32 gref_ids[1]</c>, a
    /// variable array of <c>count</c> entries the kernel writes back; its first entry is <see cref="FirstGrefId"/>, and
    /// the caller passes a buffer of <c>offsetof(gref_ids) + 4 * count</c> bytes (at least the struct's 24).
    /// </summary>
    [StructLayout(LayoutKind.Sequential)]
    internal struct GntallocAllocGref
    {
        /// <summary>IN: the domain given access.</summary>
        public ushort Domid;

        /// <summary>IN: <see cref="GntallocIoctl.GNTALLOC_FLAG_WRITABLE"/> or 0.</summary>
        public ushort Flags;

        /// <summary>IN: the number of pages.</summary>
        public uint Count;

        /// <summary>OUT: the mmap offset of the first page.</summary>
        public ulong Index;

        /// <summary>OUT: the first grant reference (the others follow it).</summary>
        public uint FirstGrefId;
    }

    /// <summary><c>struct ioctl_gntalloc_dealloc_gref</c>.</summary>
    [StructLayout(LayoutKind.Sequential)]
    internal struct GntallocDeallocGref
    {
        public ulong Index;
        public uint Count;
    }

    /// <summary>
    /// <c>struct ioctl_gntalloc_unmap_notify</c> and <c>struct ioctl_gntdev_unmap_notify</c>, which have the same
    /// fields (both checked by the header test). <see cref="Index"/> is the mmap offset of a byte of the page.
    /// </summary>
    [StructLayout(LayoutKind.Sequential)]
    internal struct GrantUnmapNotify
    {
        public ulong Index;
        public uint Action;
        public uint EventChannelPort;
    }

    /// <summary>Unmap notification actions, shared by gntalloc and gntdev.</summary>
    internal static class UnmapNotify
    {
        /// <summary>Zero the byte at the notify offset when the mapping goes.</summary>
        internal const uint UNMAP_NOTIFY_CLEAR_BYTE = 0x1;

        /// <summary>Send an event on the given port when the mapping goes.</summary>
        internal const uint UNMAP_NOTIFY_SEND_EVENT = 0x2;
    }
}
