namespace VirtualDevices.Network.Frames;

/// <summary>The headers a frame carries, as far as the one-line decoder reads (a filter matches any of them).</summary>
[Flags]
public enum FrameLayers
{
    /// <summary>Not even an Ethernet header (a runt).</summary>
    None = 0,

    /// <summary>An Ethernet II header.</summary>
    Ethernet = 1,

    /// <summary>An 802.1Q VLAN tag.</summary>
    Vlan = 2,

    /// <summary>ARP (for IPv4 over Ethernet).</summary>
    Arp = 4,

    /// <summary>IPv4.</summary>
    IPv4 = 8,

    /// <summary>IPv6.</summary>
    IPv6 = 16,

    /// <summary>TCP (the first fragment of the packet).</summary>
    Tcp = 32,

    /// <summary>UDP.</summary>
    Udp = 64,

    /// <summary>ICMP (over IPv4).</summary>
    Icmp = 128,

    /// <summary>ICMPv6.</summary>
    Icmpv6 = 256,
}
