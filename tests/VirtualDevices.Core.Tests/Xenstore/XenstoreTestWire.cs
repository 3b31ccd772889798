using System.Buffers.Binary;
using System.Net.Sockets;
using System.Text;

namespace VirtualDevices.Tests.Xenstore;

/// <summary>Raw xenstore wire messages for tests that speak to a server without our client (hostile or stalled peers).</summary>
internal static class XenstoreTestWire
{
    /// <summary>A message: the 16-byte header (type, req_id, tx_id, length) and the payload.</summary>
    /// <param name="claimedLength">A length to put in the header instead of the payload's (to lie to the server).</param>
    public static byte[] Message(uint type, uint requestId, uint transactionId, byte[] payload, uint? claimedLength = null)
    {
        byte[] message = new byte[16 + payload.Length];
        BinaryPrimitives.WriteUInt32LittleEndian(message, type);
        BinaryPrimitives.WriteUInt32LittleEndian(message.AsSpan(4), requestId);
        BinaryPrimitives.WriteUInt32LittleEndian(message.AsSpan(8), transactionId);
        BinaryPrimitives.WriteUInt32LittleEndian(message.AsSpan(12), claimedLength ?? (uint)payload.Length);
        payload.CopyTo(message, 16);
        return message;
    }

    /// <summary>Reads one whole reply (blocking).</summary>
    public static (uint Type, uint RequestId, string Payload) ReadReply(Socket socket)
    {
        byte[] header = new byte[16];
        ReceiveExactly(socket, header);
        byte[] payload = new byte[BinaryPrimitives.ReadUInt32LittleEndian(header.AsSpan(12))];
        ReceiveExactly(socket, payload);
        return (BinaryPrimitives.ReadUInt32LittleEndian(header), BinaryPrimitives.ReadUInt32LittleEndian(header.AsSpan(4)), Encoding.ASCII.GetString(payload));
    }

    /// <summary>Fills <paramref name="buffer"/> from the socket; end of stream first is an error.</summary>
    public static void ReceiveExactly(Socket socket, byte[] buffer)
    {
        int read = 0;
        while (read < buffer.Length)
        {
            int n = socket.Receive(buffer.AsSpan(read));
            if (n == 0)
            {
                throw new EndOfStreamException();
            }

            read += n;
        }
    }
}
