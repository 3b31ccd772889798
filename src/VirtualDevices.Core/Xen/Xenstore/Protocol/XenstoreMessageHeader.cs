using System.Buffers.Binary;

namespace VirtualDevices.Xen.Xenstore.Protocol;

/// <summary>
/// <c>struct xsd_sockmsg</c>: four 32-bit fields in the host's byte order (xenstore peers always share a machine, so
/// xs_wire.h never fixed an order; every Xen platform is little-endian).
/// </summary>
/// <param name="Type">The message type.</param>
/// <param name="RequestId">Chosen by the client and echoed in the reply; 0 in watch events.</param>
/// <param name="TransactionId">The transaction, or 0.</param>
/// <param name="Length">The payload length that follows the header.</param>
public readonly record struct XenstoreMessageHeader(XenstoreMessageType Type, uint RequestId, uint TransactionId, uint Length)
{
    /// <summary>Reads a header from the first 16 bytes of <paramref name="source"/>.</summary>
    public static XenstoreMessageHeader Read(ReadOnlySpan<byte> source) => new(
        (XenstoreMessageType)BinaryPrimitives.ReadUInt32LittleEndian(source),
        BinaryPrimitives.ReadUInt32LittleEndian(source[4..]),
        BinaryPrimitives.ReadUInt32LittleEndian(source[8..]),
        BinaryPrimitives.ReadUInt32LittleEndian(source[12..]));

    /// <summary>Writes the header into the first 16 bytes of <paramref name="destination"/>.</summary>
    public void Write(Span<byte> destination)
    {
        BinaryPrimitives.WriteUInt32LittleEndian(destination, (uint)Type);
        BinaryPrimitives.WriteUInt32LittleEndian(destination[4..], RequestId);
        BinaryPrimitives.WriteUInt32LittleEndian(destination[8..], TransactionId);
        BinaryPrimitives.WriteUInt32LittleEndian(destination[12..], Length);
    }
}
