namespace VirtualDevices.Interop;

internal static partial class Unix
{
    /// <summary>
    /// The ioctls of Linux's <c>/dev/xen/gntdev</c> (<c>xen/gntdev.h</c> of linux-libc-dev; checked by the C header
    /// test): <c>_IOC(_IOC_NONE, 'G', nr, sizeof(struct))</c>. A map is two steps: MAP_GRANT_REF records the refs and
    /// returns an offset; <c>mmap</c> of exactly that offset and page count maps them.
    /// </summary>
    internal static class GntdevIoctl
    {
        /// <summary>_IOC(_IOC_NONE, 'G', 0, 24): record grants to map (<see cref="GntdevMapGrantRef"/>).</summary>
        internal const nuint IOCTL_GNTDEV_MAP_GRANT_REF = 0x00184700;

        /// <summary>_IOC(_IOC_NONE, 'G', 1, 16): forget grants recorded by MAP_GRANT_REF (<see cref="GntdevUnmapGrantRef"/>).</summary>
        internal const nuint IOCTL_GNTDEV_UNMAP_GRANT_REF = 0x00104701;

        /// <summary>_IOC(_IOC_NONE, 'G', 7, 16): what to do when the mapping goes (<see cref="GrantUnmapNotify"/>).</summary>
        internal const nuint IOCTL_GNTDEV_SET_UNMAP_NOTIFY = 0x00104707;

        /// <summary>_IOC(_IOC_NONE, 'G', 8, 16): copy to or from grants (<see cref="GntdevGrantCopy"/>).</summary>
        internal const nuint IOCTL_GNTDEV_GRANT_COPY = 0x00104708;
    }

    /// <summary><c>struct ioctl_gntdev_grant_ref</c>: one grant of one domain.</summary>
    [StructLayout(LayoutKind.Sequential)]
    internal struct GntdevGrantRef
    {
        public uint Domid;
        public uint Ref;
    }

    /// <summary>
    /// The fixed part of <c>struct ioctl_gntdev_map_grant_ref</c>, which ends in <c>refs[1]</c>: a variable array of
    /// <c>count</c> <see cref="GntdevGrantRef"/> starting at <see cref="FirstRef"/>; the caller passes a buffer of
    /// <c>offsetof(refs) + 8 * count</c> bytes (at least the struct's 24).
    /// </summary>
    [StructLayout(LayoutKind.Sequential)]
    internal struct GntdevMapGrantRef
    {
        /// <summary>IN: the number of grants.</summary>
        public uint Count;

        public uint Pad;

        /// <summary>OUT: the mmap offset of the first page.</summary>
        public ulong Index;

        /// <summary>IN: the first grant (the others follow it).</summary>
        public GntdevGrantRef FirstRef;
    }

    /// <summary><c>struct ioctl_gntdev_unmap_grant_ref</c>.</summary>
    [StructLayout(LayoutKind.Sequential)]
    internal struct GntdevUnmapGrantRef
    {
        public ulong Index;
        public uint Count;
        public uint Pad;
    }
}
