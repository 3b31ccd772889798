namespace VirtualDevices.Interop;

internal static partial class Unix
{
    /// <summary>
    /// The socket ioctls that configure a Linux network interface (<c>linux/sockios.h</c>, <c>net/if.h</c>; checked by
    /// the C header test). They are issued on any socket (an AF_INET datagram socket here) and act on the network
    /// namespace of that socket, which is why a TAP made in another namespace is configured through a socket made there.
    /// </summary>
    internal static class NetDeviceIoctl
    {
        /// <summary>Reads the interface flags (<see cref="IfReq.Flags"/>).</summary>
        internal const nuint SIOCGIFFLAGS = 0x8913;

        /// <summary>Sets the interface flags (<see cref="IFF_UP"/> brings the link up).</summary>
        internal const nuint SIOCSIFFLAGS = 0x8914;

        /// <summary>Sets the IPv4 address (an AF_INET <c>sockaddr_in</c> in the request).</summary>
        internal const nuint SIOCSIFADDR = 0x8916;

        /// <summary>Sets the IPv4 netmask.</summary>
        internal const nuint SIOCSIFNETMASK = 0x891C;

        /// <summary>Reads the MTU (<see cref="IfReq.Value"/>).</summary>
        internal const nuint SIOCGIFMTU = 0x8921;

        /// <summary>Sets the MTU (<see cref="IfReq.Value"/>).</summary>
        internal const nuint SIOCSIFMTU = 0x8922;

        /// <summary>Sets the hardware address (an ARPHRD_ETHER <c>sockaddr</c> in the request).</summary>
        internal const nuint SIOCSIFHWADDR = 0x8924;

        /// <summary>Reads the hardware address.</summary>
        internal const nuint SIOCGIFHWADDR = 0x8927;

        /// <summary>Reads the interface index (<see cref="IfReq.Value"/>).</summary>
        internal const nuint SIOCGIFINDEX = 0x8933;

        /// <summary>Adds the interface whose index is in <see cref="IfReq.Value"/> to the bridge named in the request.</summary>
        internal const nuint SIOCBRADDIF = 0x89A2;

        /// <summary>Removes an interface from a bridge.</summary>
        internal const nuint SIOCBRDELIF = 0x89A3;

        /// <summary>The interface is up.</summary>
        internal const short IFF_UP = 0x1;

        /// <summary>Interface names are at most 15 bytes and a terminating zero.</summary>
        internal const int IFNAMSIZ = 16;

        /// <summary>The hardware address family of Ethernet (<c>linux/if_arp.h</c>).</summary>
        internal const ushort ARPHRD_ETHER = 1;

        /// <summary><c>AF_INET</c>.</summary>
        internal const ushort AF_INET = 2;

        /// <summary><c>SOCK_DGRAM</c> on Linux.</summary>
        internal const int SOCK_DGRAM = 2;

        /// <summary>Linux's <c>CLONE_NEWNET</c>, the namespace type given to <c>setns</c>.</summary>
        internal const int CLONE_NEWNET = 0x40000000;
    }

    /// <summary>
    /// <c>struct ifreq</c> (<c>net/if.h</c>): a 16-byte name, then a 24-byte union of which the bindings use the
    /// flags (short), an int (MTU, index) and a <c>sockaddr</c> (family and 14 bytes: a MAC, or a <c>sockaddr_in</c>).
    /// </summary>
    [StructLayout(LayoutKind.Explicit, Size = 40)]
    internal unsafe struct IfReq
    {
        /// <summary><c>ifr_name</c>: the interface's name, NUL-terminated.</summary>
        [FieldOffset(0)]
        public fixed byte Name[16];

        /// <summary><c>ifr_flags</c>.</summary>
        [FieldOffset(16)]
        public short Flags;

        /// <summary><c>ifr_mtu</c> and <c>ifr_ifindex</c>.</summary>
        [FieldOffset(16)]
        public int Value;

        /// <summary><c>ifr_hwaddr.sa_family</c> and <c>ifr_addr.sa_family</c>.</summary>
        [FieldOffset(16)]
        public ushort AddressFamily;

        /// <summary><c>ifr_hwaddr.sa_data</c>: a MAC address is its first 6 bytes.</summary>
        [FieldOffset(18)]
        public fixed byte AddressData[14];

        /// <summary>The IPv4 address of a <c>sockaddr_in</c> in <c>ifr_addr</c> (<c>sin_addr</c>, network order), after the 2-byte port.</summary>
        [FieldOffset(20)]
        public uint InetAddress;

        /// <summary>Sets <see cref="Name"/>.</summary>
        /// <param name="name">At most 15 ASCII bytes (checked by the caller).</param>
        public void SetName(string name)
        {
            fixed (byte* destination = Name)
            {
                var span = new Span<byte>(destination, 16);
                span.Clear();
                System.Text.Encoding.ASCII.GetBytes(name, span);
            }
        }

        /// <summary>Reads <see cref="Name"/>.</summary>
        public readonly string GetName()
        {
            fixed (byte* source = Name)
            {
                var span = new ReadOnlySpan<byte>(source, 16);
                int end = span.IndexOf((byte)0);
                return System.Text.Encoding.ASCII.GetString(end < 0 ? span : span[..end]);
            }
        }
    }
}
