using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;

namespace VirtualDevices.Network.Frames;

/// <summary>
/// Builds frames to send from parameters: an ARP request or reply, an ICMP echo (IPv4, with correct header and ICMP
/// checksums), or any EtherType with a raw payload, optionally VLAN-tagged. Frames shorter than Ethernet's 60-byte
/// minimum (without FCS) are padded with zeros, as a NIC pads them.
/// </summary>
public static class FrameBuilder
{
    /// <summary>Ethernet's smallest frame without its FCS.</summary>
    public const int MinimumFrameLength = 60;

    private const ushort IPv4EtherType = 0x0800;
    private const ushort ArpEtherType = 0x0806;

    /// <summary>A frame of any EtherType carrying <paramref name="payload"/>.</summary>
    /// <param name="destination">The destination MAC.</param>
    /// <param name="source">The source MAC.</param>
    /// <param name="etherType">The EtherType (0x0600 or more), or a length for 802.3.</param>
    /// <param name="payload">The payload.</param>
    /// <param name="vlanId">A VLAN id (0-4095) to tag the frame with, or null.</param>
    public static byte[] Raw(MacAddress destination, MacAddress source, ushort etherType, ReadOnlySpan<byte> payload, int? vlanId = null)
    {
        if (vlanId is < 0 or > 4095)
        {
            throw new ArgumentOutOfRangeException(nameof(vlanId), vlanId, "A VLAN id is 0-4095.");
        }

        int header = NetworkDevice.EthernetHeaderSize + (vlanId is null ? 0 : NetworkDevice.VlanTagSize);
        byte[] frame = new byte[Math.Max(MinimumFrameLength, header + payload.Length)];
        destination.Write(frame);
        source.Write(frame.AsSpan(6));
        int offset = 12;
        if (vlanId is int vlan)
        {
            BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(12), EthernetFrame.VlanEtherType);
            BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(14), (ushort)vlan);
            offset = 16;
        }

        BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(offset), etherType);
        payload.CopyTo(frame.AsSpan(header));
        return frame;
    }

    /// <summary>An ARP request: who has <paramref name="targetAddress"/>? Tell <paramref name="senderAddress"/> (broadcast).</summary>
    /// <param name="senderMac">The asking device's MAC.</param>
    /// <param name="senderAddress">The asking device's IPv4 address.</param>
    /// <param name="targetAddress">The IPv4 address asked for.</param>
    public static byte[] ArpRequest(MacAddress senderMac, IPAddress senderAddress, IPAddress targetAddress) =>
        Arp(ArpOperation.Request, senderMac, senderAddress, MacAddress.Zero, targetAddress);

    /// <summary>An ARP reply: <paramref name="senderAddress"/> is at <paramref name="senderMac"/>, sent to the asker.</summary>
    /// <param name="senderMac">The answering device's MAC.</param>
    /// <param name="senderAddress">The address answered for.</param>
    /// <param name="targetMac">The asker's MAC.</param>
    /// <param name="targetAddress">The asker's IPv4 address.</param>
    public static byte[] ArpReply(MacAddress senderMac, IPAddress senderAddress, MacAddress targetMac, IPAddress targetAddress) =>
        Arp(ArpOperation.Reply, senderMac, senderAddress, targetMac, targetAddress);

    /// <summary>An ARP frame (Ethernet, IPv4): a request goes to the broadcast address, a reply to the target's MAC.</summary>
    /// <param name="operation">Request or Reply.</param>
    /// <param name="senderMac">The sender's MAC (also the frame's source).</param>
    /// <param name="senderAddress">The sender's IPv4 address.</param>
    /// <param name="targetMac">The target's MAC (zero in a request).</param>
    /// <param name="targetAddress">The target's IPv4 address.</param>
    public static byte[] Arp(ArpOperation operation, MacAddress senderMac, IPAddress senderAddress, MacAddress targetMac, IPAddress targetAddress)
    {
        Span<byte> arp = stackalloc byte[28];
        BinaryPrimitives.WriteUInt16BigEndian(arp, 1); // hardware: Ethernet
        BinaryPrimitives.WriteUInt16BigEndian(arp[2..], IPv4EtherType);
        arp[4] = 6;
        arp[5] = 4;
        BinaryPrimitives.WriteUInt16BigEndian(arp[6..], (ushort)operation);
        senderMac.Write(arp[8..]);
        WriteIPv4(senderAddress, arp[14..], nameof(senderAddress));
        targetMac.Write(arp[18..]);
        WriteIPv4(targetAddress, arp[24..], nameof(targetAddress));
        MacAddress destination = operation == ArpOperation.Request ? MacAddress.Broadcast : targetMac;
        return Raw(destination, senderMac, ArpEtherType, arp);
    }

    /// <summary>An ICMP echo request (or reply) in an IPv4 packet, both checksums computed.</summary>
    /// <param name="destination">The destination MAC (the next hop's).</param>
    /// <param name="source">The source MAC.</param>
    /// <param name="sourceAddress">The source IPv4 address.</param>
    /// <param name="destinationAddress">The destination IPv4 address.</param>
    /// <param name="identifier">The echo identifier.</param>
    /// <param name="sequence">The echo sequence number.</param>
    /// <param name="payload">The echo data.</param>
    /// <param name="reply">True for an echo reply (type 0) instead of a request (type 8).</param>
    /// <param name="timeToLive">The IPv4 TTL (default 64).</param>
    public static byte[] IcmpEcho(MacAddress destination, MacAddress source, IPAddress sourceAddress, IPAddress destinationAddress,
        ushort identifier, ushort sequence, ReadOnlySpan<byte> payload, bool reply = false, byte timeToLive = 64)
    {
        int icmpLength = 8 + payload.Length;
        int totalLength = 20 + icmpLength;
        if (totalLength > ushort.MaxValue)
        {
            throw new ArgumentOutOfRangeException(nameof(payload), payload.Length, "The echo data does not fit an IPv4 packet.");
        }

        byte[] packet = new byte[totalLength];
        Span<byte> ip = packet;
        ip[0] = 0x45; // version 4, 5 words of header
        BinaryPrimitives.WriteUInt16BigEndian(ip[2..], (ushort)totalLength);
        BinaryPrimitives.WriteUInt16BigEndian(ip[4..], sequence); // identification: any value; the sequence varies per packet
        BinaryPrimitives.WriteUInt16BigEndian(ip[6..], 0x4000); // don't fragment
        ip[8] = timeToLive;
        ip[9] = 1; // ICMP
        WriteIPv4(sourceAddress, ip[12..], nameof(sourceAddress));
        WriteIPv4(destinationAddress, ip[16..], nameof(destinationAddress));
        BinaryPrimitives.WriteUInt16BigEndian(ip[10..], InternetChecksum.Compute(ip[..20]));

        Span<byte> icmp = ip[20..];
        icmp[0] = reply ? (byte)0 : (byte)8;
        BinaryPrimitives.WriteUInt16BigEndian(icmp[4..], identifier);
        BinaryPrimitives.WriteUInt16BigEndian(icmp[6..], sequence);
        payload.CopyTo(icmp[8..]);
        BinaryPrimitives.WriteUInt16BigEndian(icmp[2..], InternetChecksum.Compute(icmp));
        return Raw(destination, source, IPv4EtherType, packet);
    }

    private static void WriteIPv4(IPAddress address, Span<byte> destination, string parameter)
    {
        ArgumentNullException.ThrowIfNull(address, parameter);
        if (address.AddressFamily != AddressFamily.InterNetwork)
        {
            throw new ArgumentException($"'{address}' is not an IPv4 address.", parameter);
        }

        address.TryWriteBytes(destination, out _);
    }
}
