using System.Buffers.Binary;

namespace VirtualDevices.Nbd.Protocol;

/// <summary>Encodes a transmission request header (compact 28 bytes, or extended 32 bytes).</summary>
internal static class NbdRequestHeader
{
    public const int CompactLength = 28;
    public const int ExtendedLength = 32;

    public static int Length(bool extended) => extended ? ExtendedLength : CompactLength;

    public static void Write(Span<byte> destination, bool extended, NbdCommandFlags flags, NbdCommand command, ulong cookie, long offset, long length)
    {
        BinaryPrimitives.WriteUInt32BigEndian(destination, extended ? NbdMagic.ExtendedRequest : NbdMagic.Request);
        BinaryPrimitives.WriteUInt16BigEndian(destination[4..], (ushort)flags);
        BinaryPrimitives.WriteUInt16BigEndian(destination[6..], (ushort)command);
        BinaryPrimitives.WriteUInt64BigEndian(destination[8..], cookie);
        BinaryPrimitives.WriteUInt64BigEndian(destination[16..], (ulong)offset);
        if (extended)
        {
            BinaryPrimitives.WriteUInt64BigEndian(destination[24..], (ulong)length);
        }
        else
        {
            BinaryPrimitives.WriteUInt32BigEndian(destination[24..], checked((uint)length));
        }
    }
}
