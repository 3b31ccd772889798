using System.Buffers.Binary;

namespace VirtualDevices.Network;

/// <summary>A received or captured Ethernet frame, as a pipeline object: decoded header fields and a copy of the bytes.</summary>
public sealed class EthernetFrame
{
    /// <summary>0x8100: an 802.1Q VLAN tag follows the source address.</summary>
    public const ushort VlanEtherType = 0x8100;

    /// <summary>Decodes a frame, copying its bytes.</summary>
    /// <param name="device">The device the frame was seen on.</param>
    /// <param name="timestamp">When it was seen.</param>
    /// <param name="frame">The frame, header included.</param>
    public EthernetFrame(string device, DateTimeOffset timestamp, ReadOnlySpan<byte> frame)
    {
        Device = device;
        Timestamp = timestamp;
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

        Summary = FrameSummary.Describe(frame);
    }

    /// <summary>When the frame was seen.</summary>
    public DateTimeOffset Timestamp { get; }

    /// <summary>The device it was seen on.</summary>
    public string Device { get; }

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

    /// <summary>A one-line description, in the style of tcpdump.</summary>
    public string Summary { get; }

    /// <summary>The frame's bytes.</summary>
    public byte[] Data { get; }

    /// <inheritdoc/>
    public override string ToString() => Summary;
}
