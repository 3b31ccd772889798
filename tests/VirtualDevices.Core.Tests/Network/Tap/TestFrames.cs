using System.Buffers.Binary;
using System.Net;
using VirtualDevices.Network;

namespace VirtualDevices.Tests.Network.Tap;

/// <summary>
/// The few frames the TAP and switch tests send, built by hand (the module's frame builder belongs to another part):
/// an ARP request and reply, an ICMP echo request, and their parsing.
/// </summary>
public static class TestFrames
{
    public const ushort EtherTypeIPv4 = 0x0800;
    public const ushort EtherTypeArp = 0x0806;

    public static byte[] ArpRequest(MacAddress sender, IPAddress senderIp, IPAddress targetIp) =>
        Arp(1, MacAddress.Broadcast, sender, senderIp, MacAddress.Zero, targetIp);

    public static byte[] ArpReply(MacAddress sender, IPAddress senderIp, MacAddress target, IPAddress targetIp) =>
        Arp(2, target, sender, senderIp, target, targetIp);

    private static byte[] Arp(ushort operation, MacAddress destination, MacAddress sender, IPAddress senderIp, MacAddress target, IPAddress targetIp)
    {
        byte[] frame = new byte[60]; // padded to Ethernet's minimum (without FCS)
        destination.Write(frame);
        sender.Write(frame.AsSpan(6));
        BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(12), EtherTypeArp);
        Span<byte> arp = frame.AsSpan(14);
        BinaryPrimitives.WriteUInt16BigEndian(arp, 1); // Ethernet
        BinaryPrimitives.WriteUInt16BigEndian(arp[2..], EtherTypeIPv4);
        arp[4] = 6;
        arp[5] = 4;
        BinaryPrimitives.WriteUInt16BigEndian(arp[6..], operation);
        sender.Write(arp[8..]);
        senderIp.GetAddressBytes().CopyTo(arp[14..]);
        target.Write(arp[18..]);
        targetIp.GetAddressBytes().CopyTo(arp[24..]);
        return frame;
    }

    public static byte[] IcmpEcho(MacAddress destination, MacAddress source, IPAddress sourceIp, IPAddress destinationIp, ushort id, ushort sequence, ReadOnlySpan<byte> payload)
    {
        int ipLength = 20 + 8 + payload.Length;
        byte[] frame = new byte[Math.Max(60, 14 + ipLength)];
        destination.Write(frame);
        source.Write(frame.AsSpan(6));
        BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(12), EtherTypeIPv4);
        Span<byte> ip = frame.AsSpan(14, ipLength);
        ip[0] = 0x45;
        BinaryPrimitives.WriteUInt16BigEndian(ip[2..], (ushort)ipLength);
        BinaryPrimitives.WriteUInt16BigEndian(ip[4..], sequence);
        ip[8] = 64;
        ip[9] = 1; // ICMP
        sourceIp.GetAddressBytes().CopyTo(ip[12..]);
        destinationIp.GetAddressBytes().CopyTo(ip[16..]);
        BinaryPrimitives.WriteUInt16BigEndian(ip[10..], Checksum(ip[..20]));
        Span<byte> icmp = ip[20..];
        icmp[0] = 8; // echo request
        BinaryPrimitives.WriteUInt16BigEndian(icmp[4..], id);
        BinaryPrimitives.WriteUInt16BigEndian(icmp[6..], sequence);
        payload.CopyTo(icmp[8..]);
        BinaryPrimitives.WriteUInt16BigEndian(icmp[2..], Checksum(icmp));
        return frame;
    }

    public static ushort Checksum(ReadOnlySpan<byte> data)
    {
        uint sum = 0;
        for (int i = 0; i + 1 < data.Length; i += 2)
        {
            sum += BinaryPrimitives.ReadUInt16BigEndian(data[i..]);
        }

        if ((data.Length & 1) != 0)
        {
            sum += (uint)(data[^1] << 8);
        }

        while (sum > 0xFFFF)
        {
            sum = (sum & 0xFFFF) + (sum >> 16);
        }

        return (ushort)~sum;
    }

    public static ushort EtherType(ReadOnlySpan<byte> frame) => BinaryPrimitives.ReadUInt16BigEndian(frame[12..]);

    public static MacAddress Destination(ReadOnlySpan<byte> frame) => MacAddress.Read(frame);

    public static MacAddress Source(ReadOnlySpan<byte> frame) => MacAddress.Read(frame[6..]);

    /// <summary>An ARP frame's operation, sender MAC and IP, target IP; null for another frame.</summary>
    public static (ushort Operation, MacAddress Sender, IPAddress SenderIp, IPAddress TargetIp)? ParseArp(ReadOnlySpan<byte> frame) =>
        frame.Length >= 42 && EtherType(frame) == EtherTypeArp
            ? (BinaryPrimitives.ReadUInt16BigEndian(frame[20..]), MacAddress.Read(frame[22..]), new IPAddress(frame.Slice(28, 4)), new IPAddress(frame.Slice(38, 4)))
            : null;

    /// <summary>An IPv4 frame's protocol, source, destination and payload (after the IP header); null for another frame.</summary>
    public static (byte Protocol, IPAddress Source, IPAddress Destination, byte[] Payload)? ParseIPv4(ReadOnlySpan<byte> frame)
    {
        if (frame.Length < 34 || EtherType(frame) != EtherTypeIPv4)
        {
            return null;
        }

        ReadOnlySpan<byte> ip = frame[14..];
        int headerLength = (ip[0] & 0xF) * 4;
        int total = BinaryPrimitives.ReadUInt16BigEndian(ip[2..]);
        return (ip[9], new IPAddress(ip.Slice(12, 4)), new IPAddress(ip.Slice(16, 4)), ip[headerLength..total].ToArray());
    }

    /// <summary>Reads frames from a reader until <paramref name="match"/> accepts one (returning its copy), within the timeout.</summary>
    public static async Task<byte[]> WaitForAsync(FrameReader reader, Func<byte[], bool> match, TimeSpan timeout, List<byte[]>? seen = null)
    {
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            while (await reader.WaitToReadAsync(cts.Token))
            {
                while (reader.TryRead(out FrameLease lease))
                {
                    byte[] copy;
                    using (lease)
                    {
                        copy = lease.Span.ToArray();
                    }

                    seen?.Add(copy);
                    if (match(copy))
                    {
                        return copy;
                    }
                }
            }
        }
        catch (OperationCanceledException) when (cts.IsCancellationRequested)
        {
            throw new TimeoutException($"no matching frame within {timeout} ({seen?.Count ?? 0} others seen)");
        }

        throw new InvalidOperationException("the device ended before a matching frame arrived");
    }
}
