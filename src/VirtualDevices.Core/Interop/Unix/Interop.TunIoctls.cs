namespace VirtualDevices.Interop;

internal static partial class Unix
{
    /// <summary>
    /// The TUN/TAP driver's ioctls and flags (<c>linux/if_tun.h</c>; every value checked by the C header test).
    /// Each ioctl is <c>_IOW('T', nr, int)</c> or <c>_IOR('T', nr, unsigned int)</c>: the size field says 4 even
    /// where the argument is a <c>struct ifreq</c>, as the kernel has always defined them.
    /// </summary>
    internal static class TunIoctl
    {
        /// <summary>_IOW('T', 202, int): attach this open of <c>/dev/net/tun</c> to an interface (an <see cref="IfReq"/> with name and flags).</summary>
        internal const nuint TUNSETIFF = 0x400454CA;

        /// <summary>_IOW('T', 203, int): 1 keeps the interface when its last descriptor closes, 0 does not.</summary>
        internal const nuint TUNSETPERSIST = 0x400454CB;

        /// <summary>_IOR('T', 210, unsigned int): the interface this descriptor is attached to, with its flags.</summary>
        internal const nuint TUNGETIFF = 0x800454D2;

        /// <summary>A TAP device: Ethernet frames rather than IP packets.</summary>
        internal const short IFF_TAP = 0x0002;

        /// <summary>No 4-byte packet-information prefix: a read or write is exactly one frame.</summary>
        internal const short IFF_NO_PI = 0x1000;

        /// <summary>Several descriptors, one queue each, on one interface.</summary>
        internal const short IFF_MULTI_QUEUE = 0x0100;

        /// <summary>A <c>virtio_net_hdr</c> before each frame (offloads); not used (see <c>TapDevice</c>).</summary>
        internal const short IFF_VNET_HDR = 0x4000;
    }
}
