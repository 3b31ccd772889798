using System.Buffers.Binary;

namespace VirtualDevices.Network.Frames;

/// <summary>The Internet checksum of RFC 1071 (IPv4 headers, ICMP): the one's complement of the one's complement sum of 16-bit words.</summary>
public static class InternetChecksum
{
    /// <summary>The checksum of <paramref name="data"/> (an odd last byte is padded with zero), to store big-endian.</summary>
    /// <param name="data">The bytes summed, with the checksum field zero (or as received, to verify: then the result is 0).</param>
    public static ushort Compute(ReadOnlySpan<byte> data)
    {
        ulong sum = 0;
        int i = 0;
        for (; i + 1 < data.Length; i += 2)
        {
            sum += BinaryPrimitives.ReadUInt16BigEndian(data[i..]);
        }

        if (i < data.Length)
        {
            sum += (ulong)data[i] << 8;
        }

        while (sum >> 16 != 0)
        {
            sum = (sum & 0xFFFF) + (sum >> 16);
        }

        return (ushort)~sum;
    }
}
