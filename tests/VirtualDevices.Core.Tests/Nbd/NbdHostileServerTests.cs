using System.Buffers.Binary;
using System.Net.Sockets;
using VirtualDevices.Nbd.Client;
using static VirtualDevices.Tests.Nbd.NbdTestWire;

namespace VirtualDevices.Tests.Nbd;

/// <summary>
/// A scripted fake server: a correct handshake (structured replies, base:allocation as context 7, a 1 MiB export),
/// then one misbehaviour in answer to the first request. The client must fail with a typed error, never hang.
/// </summary>
public sealed class NbdHostileServerTests
{
    private const uint ContextId = 7;

    private delegate Task Misbehaviour(Stream stream, ulong cookie, ulong offset, uint length);


    private static byte[] Chunk(ushort flags, ushort type, ulong cookie, byte[] payload) =>
        [.. Be32(0x668e33ef), .. Be16(flags), .. Be16(type), .. Be64(cookie), .. Be32((uint)payload.Length), .. payload];

    private static async Task<Exception> RunAsync(Misbehaviour misbehaviour, Func<NbdBlockDevice, CancellationToken, Task> request, TimeSpan? requestTimeout = null)
    {
        using var dir = new TempDirectory();
        string path = dir.File("fake.sock");
        using var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        listener.Bind(new UnixDomainSocketEndPoint(path));
        listener.Listen(1);
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        Task server = Task.Run(async () =>
        {
            using Socket socket = await listener.AcceptAsync(deadline.Token);
            await using var stream = new NetworkStream(socket, ownsSocket: false);
            await ServeAsync(stream, misbehaviour, deadline.Token);
        });

        NbdClientOptions options = NbdUri.Parse($"nbd+unix:///?socket={path}") with
        {
            RequestTimeout = requestTimeout ?? TimeSpan.FromSeconds(10),
            RequestExtendedHeaders = false,
        };
        await using NbdBlockDevice device = await NbdClient.ConnectAsync(options, deadline.Token);
        Assert.True(device.StructuredReplies);
        Exception error = await Assert.ThrowsAnyAsync<Exception>(() => request(device, deadline.Token));
        Assert.False(deadline.IsCancellationRequested, "the client hung");
        await deadline.CancelAsync(); // releases the fake server
        try
        {
            await server.WaitAsync(TimeSpan.FromSeconds(10));
        }
        catch (Exception e) when (e is IOException or SocketException or OperationCanceledException or TimeoutException)
        {
        }

        return error;
    }

    private static async Task ServeAsync(Stream stream, Misbehaviour misbehaviour, CancellationToken ct)
    {
        await ServeHandshakeAsync(stream, 1 << 20, 1 | 4, ContextId, ct); // a 1 MiB export: has flags, flush
        byte[] request = new byte[28];
        await stream.ReadExactlyAsync(request, ct);
        await misbehaviour(stream, BinaryPrimitives.ReadUInt64BigEndian(request.AsSpan(8)), BinaryPrimitives.ReadUInt64BigEndian(request.AsSpan(16)),
            BinaryPrimitives.ReadUInt32BigEndian(request.AsSpan(24)));
        await stream.FlushAsync(ct);
        // Keep the connection open: the client must detect the problem by itself.
        await Task.Delay(TimeSpan.FromSeconds(15), ct);
    }

    private static Task Read4K(NbdBlockDevice device, CancellationToken ct) => device.ReadAsync(0, new byte[4096], ct).AsTask();

    [Fact]
    public async Task BadReplyMagicIsAProtocolError()
    {
        Exception e = await RunAsync((s, cookie, _, _) => s.WriteAsync(new byte[] { 1, 2, 3, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0 }).AsTask(), Read4K);
        Assert.IsType<NbdProtocolException>(e);
    }

    [Fact]
    public async Task UnknownCookieIsAProtocolError()
    {
        Exception e = await RunAsync((s, cookie, _, _) => s.WriteAsync(Chunk(1, 0, cookie ^ 0xdead, [])).AsTask(), Read4K);
        Assert.Contains("unknown cookie", Assert.IsType<NbdProtocolException>(e).Detail);
    }

    [Fact]
    public async Task OversizedDataChunkIsAProtocolError()
    {
        Exception e = await RunAsync((s, cookie, offset, length) => s.WriteAsync(Chunk(1, 1, cookie, [.. Be64(offset), .. new byte[length + 512]])).AsTask(), Read4K);
        Assert.IsType<NbdProtocolException>(e);
    }

    [Fact]
    public async Task ChunkOutsideTheRequestIsAProtocolError()
    {
        Exception e = await RunAsync((s, cookie, offset, length) => s.WriteAsync(Chunk(1, 1, cookie, [.. Be64(offset + 512), .. new byte[length]])).AsTask(), Read4K);
        Assert.IsType<NbdProtocolException>(e);
    }

    [Fact]
    public async Task OverlappingChunksAreAProtocolError()
    {
        Exception e = await RunAsync(async (s, cookie, offset, _) =>
        {
            await s.WriteAsync(Chunk(0, 1, cookie, [.. Be64(offset), .. new byte[2048]]));
            await s.WriteAsync(Chunk(1, 1, cookie, [.. Be64(offset + 1024), .. new byte[2048]]));
        }, Read4K);
        Assert.Contains("overlapping", Assert.IsType<NbdProtocolException>(e).Detail);
    }

    [Fact]
    public async Task ReadReplyOfTheWrongLengthIsAProtocolError()
    {
        Exception e = await RunAsync((s, cookie, offset, _) => s.WriteAsync(Chunk(1, 1, cookie, [.. Be64(offset), .. new byte[2048]])).AsTask(), Read4K);
        Assert.Contains("covered 2048 of 4096", Assert.IsType<NbdProtocolException>(e).Detail);
    }

    [Fact]
    public async Task SimpleReplyToAStructuredReadIsAProtocolError()
    {
        Exception e = await RunAsync((s, cookie, _, length) => s.WriteAsync((byte[])[.. Be32(0x67446698), .. Be32(0), .. Be64(cookie), .. new byte[length]]).AsTask(), Read4K);
        Assert.IsType<NbdProtocolException>(e);
    }

    [Fact]
    public async Task BlockStatusForAnUnknownContextIsAProtocolError()
    {
        Exception e = await RunAsync((s, cookie, _, length) => s.WriteAsync(Chunk(1, 5, cookie, [.. Be32(ContextId + 1), .. Be32(length), .. Be32(0)])).AsTask(),
            (device, ct) => device.GetAllocationAsync(0, 8, new VirtualDevices.Block.BlockExtent[4], ct).AsTask());
        Assert.IsType<NbdProtocolException>(e);
    }

    [Fact]
    public async Task TruncatedReplyThenHangUpIsADisconnection()
    {
        Exception e = await RunAsync(async (s, cookie, offset, length) =>
        {
            byte[] chunk = Chunk(1, 1, cookie, [.. Be64(offset), .. new byte[length]]);
            await s.WriteAsync(chunk.AsMemory(0, 100));
            s.Close();
        }, Read4K);
        Assert.IsType<DeviceDisconnectedException>(e);
    }

    [Fact]
    public async Task ErrorChunkIsATypedErrorAndKeepsTheConnection()
    {
        Exception e = await RunAsync((s, cookie, _, _) => s.WriteAsync(Chunk(1, 0x8001, cookie, [.. Be32(5), .. Be16(4), .. "oops"u8.ToArray()])).AsTask(), Read4K);
        BlockIOException io = Assert.IsType<BlockIOException>(e);
        Assert.Equal(5, io.ErrorNumber);
        Assert.Contains("oops", io.Message);
    }

    [Fact]
    public async Task EinvalIsAnInvalidRequestNotAnOutOfRangeError()
    {
        // EINVAL for a request inside the export (unknown flags, say): the server refused it as invalid.
        Exception e = await RunAsync((s, cookie, _, _) => s.WriteAsync(Chunk(1, 0x8001, cookie, [.. Be32(22), .. Be16(13), .. "unknown flags"u8.ToArray()])).AsTask(), Read4K);
        DeviceException invalid = Assert.IsType<DeviceException>(e);
        Assert.Equal("NbdInvalidRequest", invalid.ErrorId);
        Assert.Equal(DeviceErrorCategory.InvalidArgument, invalid.Category);
        Assert.Contains("refused the read request", invalid.Message);
        Assert.Contains("as invalid", invalid.Message);
        Assert.Contains("EINVAL: unknown flags", invalid.Message);
    }

    [Fact]
    public async Task SilentServerIsAbandonedAtTheRequestTimeout()
    {
        Exception e = await RunAsync((_, _, _, _) => Task.CompletedTask, Read4K, TimeSpan.FromMilliseconds(300));
        Assert.IsType<DeviceDisconnectedException>(e);
    }
}
