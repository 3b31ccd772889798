using System.Buffers.Binary;

namespace VirtualDevices.Network.Frames;

/// <summary>
/// A simple filter of frames, read in place before anything is copied: every condition set must hold (an empty filter
/// takes every frame). Within a condition any of its values will do.
/// </summary>
public sealed class FrameFilter
{
    /// <summary>Headers one of which the frame must carry (for instance <c>Udp | Icmp</c>), or None for any.</summary>
    public FrameLayers Layers { get; init; }

    /// <summary>EtherTypes (after any VLAN tag) one of which the frame must have, or null for any.</summary>
    public IReadOnlyCollection<ushort>? EtherTypes { get; init; }

    /// <summary>The VLAN id the frame must be tagged with, or null for any (tagged or not).</summary>
    public int? VlanId { get; init; }

    /// <summary>A MAC address the frame must come from or go to, or null for any.</summary>
    public MacAddress? MacAddress { get; init; }

    /// <summary>True when no condition is set.</summary>
    public bool IsEmpty => Layers == FrameLayers.None && EtherTypes is null && VlanId is null && MacAddress is null;

    /// <summary>Whether <paramref name="frame"/> passes.</summary>
    /// <param name="frame">The whole frame.</param>
    public bool Matches(ReadOnlySpan<byte> frame)
    {
        if (IsEmpty)
        {
            return true;
        }

        if (frame.Length < NetworkDevice.EthernetHeaderSize)
        {
            return false;
        }

        ushort etherType = BinaryPrimitives.ReadUInt16BigEndian(frame[12..]);
        int? vlan = null;
        if (etherType == EthernetFrame.VlanEtherType && frame.Length >= 18)
        {
            vlan = BinaryPrimitives.ReadUInt16BigEndian(frame[14..]) & 0x0FFF;
            etherType = BinaryPrimitives.ReadUInt16BigEndian(frame[16..]);
        }

        if (EtherTypes is not null && !EtherTypes.Contains(etherType))
        {
            return false;
        }

        if (VlanId is not null && vlan != VlanId)
        {
            return false;
        }

        if (MacAddress is { } mac && Network.MacAddress.Read(frame) != mac && Network.MacAddress.Read(frame[6..]) != mac)
        {
            return false;
        }

        return Layers == FrameLayers.None || (FrameSummary.Layers(frame) & Layers) != 0;
    }
}
