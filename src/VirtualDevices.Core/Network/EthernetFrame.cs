using System.Buffers.Binary;
using VirtualDevices.Network.Frames;

namespace VirtualDevices.Network;

/// <summary>
/// A received, captured or built Ethernet frame, as a pipeline object: a copy of its bytes and the fields shown in one
/// line (addresses, EtherType, VLAN, the protocol and a summary), decoded from the bytes in place. A full dissection
/// of every header is made on demand (<see cref="Dissect"/>).
/// </summary>
public sealed class EthernetFrame
{
    /// <summary>0x8100: an 802.1Q VLAN tag follows the source address.</summary>
    public const ushort VlanEtherType = 0x8100;

    /// <summary>Ticks (100 ns) from 0001-01-01 to the Unix epoch.</summary>
    private const long UnixEpochTicks = 621355968000000000;

    /// <summary>Decodes a frame, copying its bytes.</summary>
    /// <param name="device">The device the frame was seen on.</param>
    /// <param name="timestamp">When it was seen.</param>
    /// <param name="frame">The frame, header included.</param>
    public EthernetFrame(string device, DateTimeOffset timestamp, ReadOnlySpan<byte> frame)
        : this(device, (timestamp.UtcTicks - UnixEpochTicks) * 100, FrameDirection.Unknown, frame)
    {
    }

    /// <summary>Decodes a frame, copying its bytes, with a timestamp in nanoseconds (as pcapng keeps them) and its direction.</summary>
    /// <param name="device">The device (or capture interface) the frame was seen on.</param>
    /// <param name="unixTimeNanoseconds">When it was seen: nanoseconds since 1970-01-01 UTC.</param>
    /// <param name="direction">Which way it went through the device.</param>
    /// <param name="frame">The frame, header included.</param>
    public EthernetFrame(string device, long unixTimeNanoseconds, FrameDirection direction, ReadOnlySpan<byte> frame)
    {
        Device = device;
        UnixTimeNanoseconds = unixTimeNanoseconds;
        Direction = direction;
        Data = frame.ToArray();
        if (frame.Length >= NetworkDevice.EthernetHeaderSize)
        {
            Destination = MacAddress.Read(frame);
            Source = MacAddress.Read(frame[6..]);
            EtherType = BinaryPrimitives.ReadUInt16BigEndian(frame[12..]);
            if (EtherType == VlanEtherType && frame.Length >= NetworkDevice.EthernetHeaderSize + NetworkDevice.VlanTagSize)
            {
                VlanId = BinaryPrimitives.ReadUInt16BigEndian(frame[14..]) & 0x0FFF;
                EtherType = BinaryPrimitives.ReadUInt16BigEndian(frame[16..]);
            }
        }

        Layers = FrameSummary.Layers(frame);
        Protocol = FrameSummary.Protocol(frame);
        Summary = FrameSummary.Describe(frame);
    }

    /// <summary>When the frame was seen (UTC; 100 ns resolution: <see cref="UnixTimeNanoseconds"/> keeps every digit).</summary>
    public DateTimeOffset Timestamp => new(UnixEpochTicks + Math.Max(UnixTimeNanoseconds / 100, -UnixEpochTicks), TimeSpan.Zero);

    /// <summary>When the frame was seen, in nanoseconds since 1970-01-01 UTC.</summary>
    public long UnixTimeNanoseconds { get; }

    /// <summary>The device it was seen on.</summary>
    public string Device { get; }

    /// <summary>Which way it went: Inbound (received), Outbound (sent), or Unknown.</summary>
    public FrameDirection Direction { get; }

    /// <summary>Length in bytes, header included.</summary>
    public int Length => Data.Length;

    /// <summary>The destination address.</summary>
    public MacAddress Destination { get; }

    /// <summary>The source address.</summary>
    public MacAddress Source { get; }

    /// <summary>The EtherType of the payload (after any VLAN tag).</summary>
    public ushort EtherType { get; }

    /// <summary>The VLAN id, or null for an untagged frame.</summary>
    public int? VlanId { get; }

    /// <summary>The headers it carries.</summary>
    public FrameLayers Layers { get; }

    /// <summary>Its highest protocol, as tshark's Protocol column names it: ARP, IPv4, IPv6, TCP, UDP, ICMP, ICMPv6, or the EtherType.</summary>
    public string Protocol { get; }

    /// <summary>A one-line description, in the style of tcpdump.</summary>
    public string Summary { get; }

    /// <summary>The frame's bytes.</summary>
    public byte[] Data { get; }

    /// <summary>
    /// Dissects every header of the frame with PacketDotNet (made now, not kept): walk it with
    /// <c>Extract&lt;T&gt;()</c> or print it with <c>ToString(StringOutputType.Verbose)</c>.
    /// </summary>
    public PacketDotNet.Packet Dissect() => PacketDotNet.Packet.ParsePacket(PacketDotNet.LinkLayers.Ethernet, Data);

    /// <inheritdoc/>
    public override string ToString() => Summary;
}
