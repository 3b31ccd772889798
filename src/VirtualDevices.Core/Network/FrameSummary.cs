using System.Buffers.Binary;
using System.Globalization;
using System.Net;
using VirtualDevices.Network.Frames;

namespace VirtualDevices.Network;

/// <summary>
/// One-line, tcpdump-like descriptions of frames (ARP, IPv4 and IPv6 with TCP, UDP and ICMP), the layers a frame
/// carries, and its protocol as tshark's Protocol column names it. All read the frame in place: nothing is copied.
/// </summary>
internal static class FrameSummary
{
    private const ushort IPv4 = 0x0800;
    private const ushort Arp = 0x0806;
    private const ushort IPv6 = 0x86DD;

    public static string Describe(ReadOnlySpan<byte> frame)
    {
        if (frame.Length < NetworkDevice.EthernetHeaderSize)
        {
            return $"truncated frame, {frame.Length} bytes";
        }

        ushort etherType = BinaryPrimitives.ReadUInt16BigEndian(frame[12..]);
        ReadOnlySpan<byte> payload = frame[14..];
        string vlan = string.Empty;
        if (etherType == EthernetFrame.VlanEtherType && payload.Length >= 4)
        {
            vlan = $"vlan {BinaryPrimitives.ReadUInt16BigEndian(payload) & 0xFFF}, ";
            etherType = BinaryPrimitives.ReadUInt16BigEndian(payload[2..]);
            payload = payload[4..];
        }

        string body = etherType switch
        {
            Arp => DescribeArp(payload),
            IPv4 => DescribeIPv4(payload),
            IPv6 => DescribeIPv6(payload),
            < 0x0600 => $"802.3 length {etherType}",
            _ => string.Create(CultureInfo.InvariantCulture, $"ethertype 0x{etherType:x4}, {payload.Length} bytes"),
        };
        return vlan + body;
    }

    /// <summary>The headers the frame carries (those this decoder reads).</summary>
    public static FrameLayers Layers(ReadOnlySpan<byte> frame)
    {
        if (frame.Length < NetworkDevice.EthernetHeaderSize)
        {
            return FrameLayers.None;
        }

        FrameLayers layers = FrameLayers.Ethernet;
        ushort etherType = BinaryPrimitives.ReadUInt16BigEndian(frame[12..]);
        ReadOnlySpan<byte> p = frame[14..];
        if (etherType == EthernetFrame.VlanEtherType && p.Length >= 4)
        {
            layers |= FrameLayers.Vlan;
            etherType = BinaryPrimitives.ReadUInt16BigEndian(p[2..]);
            p = p[4..];
        }

        switch (etherType)
        {
            case Arp when p.Length >= 28:
                return layers | FrameLayers.Arp;
            case IPv4 when p.Length >= 20 && p[0] >> 4 == 4:
                int headerLength = (p[0] & 0xF) * 4;
                layers |= FrameLayers.IPv4;
                bool firstFragment = (BinaryPrimitives.ReadUInt16BigEndian(p[6..]) & 0x1FFF) == 0;
                return headerLength < 20 || headerLength > p.Length || !firstFragment ? layers : layers | Transport(p[9], p.Length - headerLength);
            case IPv6 when p.Length >= 40 && p[0] >> 4 == 6:
                return layers | FrameLayers.IPv6 | Transport(p[6], p.Length - 40);
            default:
                return layers;
        }
    }

    /// <summary>The frame's highest protocol, named as tshark's Protocol column names it (ARP, IPv4, TCP, ICMPv6...).</summary>
    public static string Protocol(ReadOnlySpan<byte> frame)
    {
        FrameLayers layers = Layers(frame);
        if (layers == FrameLayers.None)
        {
            return "Ethernet";
        }

        return layers switch
        {
            _ when (layers & FrameLayers.Icmpv6) != 0 => "ICMPv6",
            _ when (layers & FrameLayers.Icmp) != 0 => "ICMP",
            _ when (layers & FrameLayers.Tcp) != 0 => "TCP",
            _ when (layers & FrameLayers.Udp) != 0 => "UDP",
            _ when (layers & FrameLayers.IPv4) != 0 => "IPv4",
            _ when (layers & FrameLayers.IPv6) != 0 => "IPv6",
            _ when (layers & FrameLayers.Arp) != 0 => "ARP",
            _ => string.Create(CultureInfo.InvariantCulture, $"0x{InnerEtherType(frame):x4}"),
        };
    }

    private static ushort InnerEtherType(ReadOnlySpan<byte> frame)
    {
        ushort etherType = BinaryPrimitives.ReadUInt16BigEndian(frame[12..]);
        return etherType == EthernetFrame.VlanEtherType && frame.Length >= 18 ? BinaryPrimitives.ReadUInt16BigEndian(frame[16..]) : etherType;
    }

    private static FrameLayers Transport(byte protocol, int length) => protocol switch
    {
        6 when length >= 20 => FrameLayers.Tcp,
        17 when length >= 8 => FrameLayers.Udp,
        1 when length >= 4 => FrameLayers.Icmp,
        58 when length >= 4 => FrameLayers.Icmpv6,
        _ => FrameLayers.None,
    };

    private static string DescribeArp(ReadOnlySpan<byte> p)
    {
        if (p.Length < 28 || BinaryPrimitives.ReadUInt16BigEndian(p) != 1 || BinaryPrimitives.ReadUInt16BigEndian(p[2..]) != IPv4)
        {
            return "ARP, malformed";
        }

        ushort op = BinaryPrimitives.ReadUInt16BigEndian(p[6..]);
        var senderIp = new IPAddress(p.Slice(14, 4));
        var targetIp = new IPAddress(p.Slice(24, 4));
        return op switch
        {
            1 => $"ARP, Request who-has {targetIp} tell {senderIp}",
            2 => $"ARP, Reply {senderIp} is-at {MacAddress.Read(p[8..])}",
            _ => $"ARP, op {op}",
        };
    }

    private static string DescribeIPv4(ReadOnlySpan<byte> p)
    {
        if (p.Length < 20 || p[0] >> 4 != 4)
        {
            return "IPv4, malformed";
        }

        int headerLength = (p[0] & 0xF) * 4;
        if (headerLength < 20 || headerLength > p.Length)
        {
            return "IPv4, bad header length";
        }

        var source = new IPAddress(p.Slice(12, 4));
        var destination = new IPAddress(p.Slice(16, 4));
        bool firstFragment = (BinaryPrimitives.ReadUInt16BigEndian(p[6..]) & 0x1FFF) == 0;
        return firstFragment
            ? DescribeTransport("IP", source, destination, p[9], p[headerLength..])
            : $"IP {source} > {destination}: fragment";
    }

    private static string DescribeIPv6(ReadOnlySpan<byte> p)
    {
        if (p.Length < 40 || p[0] >> 4 != 6)
        {
            return "IPv6, malformed";
        }

        return DescribeTransport("IP6", new IPAddress(p.Slice(8, 16)), new IPAddress(p.Slice(24, 16)), p[6], p[40..]);
    }

    private static string DescribeTransport(string family, IPAddress source, IPAddress destination, byte protocol, ReadOnlySpan<byte> t)
    {
        switch (protocol)
        {
            case 6 when t.Length >= 14:
                return $"{family} {source}.{BinaryPrimitives.ReadUInt16BigEndian(t)} > {destination}.{BinaryPrimitives.ReadUInt16BigEndian(t[2..])}: TCP [{TcpFlags(t[13])}]";
            case 17 when t.Length >= 8:
                return $"{family} {source}.{BinaryPrimitives.ReadUInt16BigEndian(t)} > {destination}.{BinaryPrimitives.ReadUInt16BigEndian(t[2..])}: UDP, length {BinaryPrimitives.ReadUInt16BigEndian(t[4..]) - 8}";
            case 1 when t.Length >= 2:
                return $"{family} {source} > {destination}: ICMP {IcmpType(t[0])}";
            case 58 when t.Length >= 2:
                return $"{family} {source} > {destination}: ICMP6 type {t[0]}";
            default:
                return $"{family} {source} > {destination}: protocol {protocol}";
        }
    }

    private static string TcpFlags(byte flags)
    {
        Span<char> text = stackalloc char[6];
        int n = 0;
        if ((flags & 0x02) != 0) text[n++] = 'S';
        if ((flags & 0x01) != 0) text[n++] = 'F';
        if ((flags & 0x04) != 0) text[n++] = 'R';
        if ((flags & 0x08) != 0) text[n++] = 'P';
        if ((flags & 0x10) != 0) text[n++] = '.';
        return n == 0 ? "none" : new string(text[..n]);
    }

    private static string IcmpType(byte type) => type switch
    {
        0 => "echo reply",
        3 => "destination unreachable",
        8 => "echo request",
        11 => "time exceeded",
        _ => $"type {type}",
    };
}
