using System.Buffers.Binary;
using System.Net.Sockets;

namespace VirtualDevices.Tests.Nbd;

/// <summary>
/// A client written from the spec for the server's bounds tests: the oldstyle-free EXPORT_NAME handshake (fixed
/// newstyle, no zeroes), then requests written and replies read by hand, so that a test can send what a polite
/// client would not (requests it never collects) and see how the connection ends (a clean FIN or a reset).
/// </summary>
internal sealed class NbdRawClient : IDisposable
{
    private const uint RequestMagic = 0x25609513;
    private const uint SimpleReplyMagic = 0x67446698;

    private NbdRawClient(Socket socket) => Socket = socket;

    public Socket Socket { get; }

    /// <summary>The export size the server announced.</summary>
    public ulong ExportSize { get; private set; }

    public static async Task<NbdRawClient> ConnectAsync(string path, CancellationToken ct)
    {
        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        var client = new NbdRawClient(socket);
        try
        {
            await socket.ConnectAsync(new UnixDomainSocketEndPoint(path), ct);
            await client.ReceiveExactlyAsync(new byte[18], ct);
            byte[] option = new byte[4 + 16];
            BinaryPrimitives.WriteUInt32BigEndian(option, 3); // NBD_FLAG_C_FIXED_NEWSTYLE | NBD_FLAG_C_NO_ZEROES
            BinaryPrimitives.WriteUInt64BigEndian(option.AsSpan(4), 0x49484156454F5054);
            BinaryPrimitives.WriteUInt32BigEndian(option.AsSpan(12), 1); // NBD_OPT_EXPORT_NAME, the default export ""
            await socket.SendAsync(option, ct);
            byte[] reply = new byte[10];
            await client.ReceiveExactlyAsync(reply, ct);
            client.ExportSize = BinaryPrimitives.ReadUInt64BigEndian(reply);
            return client;
        }
        catch
        {
            client.Dispose();
            throw;
        }
    }

    /// <summary>An NBD_CMD_READ (compact header).</summary>
    public static byte[] ReadRequest(ulong cookie, ulong offset, uint length)
    {
        byte[] request = new byte[28];
        BinaryPrimitives.WriteUInt32BigEndian(request, RequestMagic);
        BinaryPrimitives.WriteUInt64BigEndian(request.AsSpan(8), cookie);
        BinaryPrimitives.WriteUInt64BigEndian(request.AsSpan(16), offset);
        BinaryPrimitives.WriteUInt32BigEndian(request.AsSpan(24), length);
        return request;
    }

    public async Task SendAsync(byte[] data, CancellationToken ct) => await Socket.SendAsync(data, ct);

    /// <summary>Reads one simple reply with <paramref name="dataLength"/> bytes of data; returns its error.</summary>
    public async Task<uint> ReceiveSimpleReplyAsync(ulong cookie, int dataLength, CancellationToken ct)
    {
        byte[] header = new byte[16];
        await ReceiveExactlyAsync(header, ct);
        if (BinaryPrimitives.ReadUInt32BigEndian(header) != SimpleReplyMagic || BinaryPrimitives.ReadUInt64BigEndian(header.AsSpan(8)) != cookie)
        {
            throw new InvalidDataException("not the simple reply expected");
        }

        uint error = BinaryPrimitives.ReadUInt32BigEndian(header.AsSpan(4));
        if (error == 0 && dataLength > 0)
        {
            await ReceiveExactlyAsync(new byte[dataLength], ct);
        }

        return error;
    }

    /// <summary>
    /// Waits for the server to close the connection: true for a clean close (end of stream, the server's FIN), false
    /// for a reset; any data the server sends instead is an error.
    /// </summary>
    public async Task<bool> WaitForCloseAsync(CancellationToken ct)
    {
        try
        {
            int n = await Socket.ReceiveAsync(new byte[1], SocketFlags.None, ct);
            return n == 0 ? true : throw new InvalidDataException("the server sent data to an idle client");
        }
        catch (SocketException e) when (e.SocketErrorCode is SocketError.ConnectionReset)
        {
            return false;
        }
    }

    private async Task ReceiveExactlyAsync(byte[] buffer, CancellationToken ct)
    {
        int done = 0;
        while (done < buffer.Length)
        {
            int n = await Socket.ReceiveAsync(buffer.AsMemory(done), SocketFlags.None, ct);
            if (n == 0)
            {
                throw new EndOfStreamException("the server closed the connection");
            }

            done += n;
        }
    }

    public void Dispose() => Socket.Dispose();
}
