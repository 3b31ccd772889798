using System.Buffers.Binary;

namespace VirtualDevices.Tests.Nbd;

/// <summary>
/// The server side of the NBD wire for the tests' scripted servers: big-endian fields, and a correct fixed-newstyle
/// handshake up to NBD_OPT_GO, after which each test misbehaves in its own way.
/// </summary>
internal static class NbdTestWire
{
    private const ulong OptionReplyMagic = 0x3e889045565a9;

    public static byte[] Be16(int v) { var b = new byte[2]; BinaryPrimitives.WriteUInt16BigEndian(b, (ushort)v); return b; }

    public static byte[] Be32(uint v) { var b = new byte[4]; BinaryPrimitives.WriteUInt32BigEndian(b, v); return b; }

    public static byte[] Be64(ulong v) { var b = new byte[8]; BinaryPrimitives.WriteUInt64BigEndian(b, v); return b; }

    /// <summary>
    /// Greets (NBDMAGIC, IHAVEOPT, fixed newstyle and no zeroes), then answers options until NBD_OPT_GO: structured
    /// replies accepted, base:allocation given <paramref name="metaContextId"/> when there is one (else, like every
    /// other option, NBD_REP_ERR_UNSUP), and GO answered with NBD_INFO_EXPORT (<paramref name="size"/>,
    /// <paramref name="flags"/>) and ACK. Returns when the transmission phase begins.
    /// </summary>
    public static async Task ServeHandshakeAsync(Stream stream, ulong size, ushort flags, uint? metaContextId, CancellationToken ct)
    {
        await stream.WriteAsync((byte[])[.. Be64(0x4e42444d41474943), .. Be64(0x49484156454F5054), .. Be16(3)], ct);
        byte[] header = new byte[16];
        await stream.ReadExactlyAsync(header.AsMemory(0, 4), ct); // the client's flags
        while (true)
        {
            await stream.ReadExactlyAsync(header, ct);
            uint option = BinaryPrimitives.ReadUInt32BigEndian(header.AsSpan(8));
            byte[] data = new byte[BinaryPrimitives.ReadUInt32BigEndian(header.AsSpan(12))];
            await stream.ReadExactlyAsync(data, ct);
            async Task Reply(uint type, byte[] payload) =>
                await stream.WriteAsync((byte[])[.. Be64(OptionReplyMagic), .. Be32(option), .. Be32(type), .. Be32((uint)payload.Length), .. payload], ct);
            switch (option)
            {
                case 8: // NBD_OPT_STRUCTURED_REPLY
                    await Reply(1, []);
                    break;
                case 10 when metaContextId is uint id: // NBD_OPT_SET_META_CONTEXT
                    await Reply(4, [.. Be32(id), .. "base:allocation"u8.ToArray()]);
                    await Reply(1, []);
                    break;
                case 7: // NBD_OPT_GO
                    await Reply(3, [.. Be16(0), .. Be64(size), .. Be16(flags)]);
                    await Reply(1, []);
                    return;
                default: // NBD_REP_ERR_UNSUP
                    await Reply(0x80000001, []);
                    break;
            }
        }
    }
}
