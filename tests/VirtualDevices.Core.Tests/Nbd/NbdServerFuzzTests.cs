using System.Buffers.Binary;
using System.Net.Sockets;
using VirtualDevices.Block;
using VirtualDevices.Nbd.Server;

namespace VirtualDevices.Tests.Nbd;

/// <summary>
/// Thousands of seeded random requests against the server's parser, valid and not: valid ones must succeed with the
/// right data, invalid ones must get an error reply, garbage must get a clean disconnect; at the end the export
/// equals a model that applied exactly the valid writes, and the server still serves.
/// </summary>
public sealed class NbdServerFuzzTests
{
    private const int Size = 1 << 20;
    private const uint RequestMagic = 0x25609513;

    [Fact]
    public async Task ServerSurvivesRandomAndMutatedRequestsAndKeepsTheExportExact()
    {
        using var dir = new TempDirectory();
        string socket = dir.File("fuzz.sock");
        await using var disk = new MemoryBlockDevice(Size);
        byte[] model = TempDirectory.Pattern(Size, seed: 99);
        await disk.WriteAsync(0, model);
        await using var server = new NbdServer(new NbdServerOptions { UnixSocketPath = socket }, new NbdExport("", disk));
        await server.StartAsync();
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(120));
        CancellationToken ct = deadline.Token;
        var random = new Random(20240521);
        Raw raw = await Raw.ConnectAsync(socket, structured: true, ct);
        ulong cookie = 1;
        int disconnects = 0;
        try
        {
            for (int i = 0; i < 3000; i++)
            {
                int choice = random.Next(100);
                cookie++;
                if (choice < 30)
                {
                    (int offset, int length) = AlignedRange(random);
                    await raw.SendAsync(Request(0, 0, cookie, (ulong)offset, (uint)length), ct);
                    (uint error, byte[] data) = await raw.ReceiveAsync(cookie, length, ct);
                    Assert.Equal(0u, error);
                    Assert.True(data.AsSpan().SequenceEqual(model.AsSpan(offset, length)), $"read {offset}+{length} returned wrong data");
                }
                else if (choice < 55)
                {
                    (int offset, int length) = AlignedRange(random);
                    byte[] payload = new byte[length];
                    random.NextBytes(payload);
                    await raw.SendAsync([.. Request(1, (ushort)(random.Next(2) == 0 ? 1 : 0), cookie, (ulong)offset, (uint)length), .. payload], ct);
                    (uint error, _) = await raw.ReceiveAsync(cookie, 0, ct);
                    Assert.Equal(0u, error);
                    payload.CopyTo(model, offset);
                }
                else if (choice < 85)
                {
                    (byte[] request, string what) = Invalid(random, cookie);
                    await raw.SendAsync(request, ct);
                    (uint error, _) = await raw.ReceiveAsync(cookie, 0, ct);
                    Assert.True(error != 0, $"{what} was accepted");
                }
                else
                {
                    byte[] hostile = choice switch
                    {
                        < 93 => Garbage(random),
                        < 97 => Request(1, 0, cookie, 0, 64u << 20), // a write payload no server should buffer
                        _ => PartialWrite(random, cookie),
                    };
                    await raw.SendAsync(hostile, ct);
                    if (choice >= 97)
                    {
                        raw.Vanish(); // the client goes away mid-payload
                    }

                    await raw.ExpectHangUpAsync(ct);
                    disconnects++;
                    await raw.DisposeAsync();
                    raw = await Raw.ConnectAsync(socket, structured: random.Next(4) != 0, ct);
                }
            }
        }
        finally
        {
            await raw.DisposeAsync();
        }

        Assert.True(disconnects > 100, $"only {disconnects} hostile sessions");
        var actual = new byte[Size];
        await disk.ReadAsync(0, actual);
        Assert.Equal(NbdPeers.Sha256(model), NbdPeers.Sha256(actual));
        Assert.True(server.GetStatistics().ProtocolViolations > 0);
        Assert.True(server.IsRunning);
        Infrastructure.ProcessResult info = await Infrastructure.ExternalProcess.RunAsync("nbdinfo", ["--size", $"nbd+unix:///?socket={socket}"], NbdPeers.Timeout);
        Assert.Equal($"{Size}", info.EnsureSuccess("nbdinfo").StandardOutput.Trim());
    }

    private static (int Offset, int Length) AlignedRange(Random random)
    {
        int sectors = random.Next(1, 129);
        int start = random.Next(0, (Size / 512) - sectors + 1);
        return (start * 512, sectors * 512);
    }

    private static byte[] Request(ushort type, ushort flags, ulong cookie, ulong offset, uint length)
    {
        byte[] request = new byte[28];
        BinaryPrimitives.WriteUInt32BigEndian(request, RequestMagic);
        BinaryPrimitives.WriteUInt16BigEndian(request.AsSpan(4), flags);
        BinaryPrimitives.WriteUInt16BigEndian(request.AsSpan(6), type);
        BinaryPrimitives.WriteUInt64BigEndian(request.AsSpan(8), cookie);
        BinaryPrimitives.WriteUInt64BigEndian(request.AsSpan(16), offset);
        BinaryPrimitives.WriteUInt32BigEndian(request.AsSpan(24), length);
        return request;
    }

    private static (byte[] Request, string What) Invalid(Random random, ulong cookie)
    {
        switch (random.Next(9))
        {
            case 0: return (Request(0, 0, cookie, (ulong)random.Next(1, 511), 512), "misaligned read");
            case 1: return (Request(0, 0, cookie, (ulong)Size + ((ulong)random.Next(0, 1000) * 512), 512), "read past the end");
            case 2:
            {
                int length = random.Next(1, 511);
                return ([.. Request(1, 0, cookie, 0, (uint)length), .. new byte[length]], "misaligned write");
            }

            case 3: return ([.. Request(1, 0, cookie, Size - 512, 1024), .. new byte[1024]], "write past the end");
            case 4: return (Request((ushort)(random.Next(2) == 0 ? 4 : 6), 0, cookie, Size, 4096), "trim or zero past the end");
            case 5: return (Request((ushort)random.Next(8, 65536), (ushort)random.Next(0, 65536), cookie, (ulong)random.NextInt64(), (uint)random.Next(0, 1 << 20)), "unknown command");
            case 6: return (Request(0, (ushort)(1 << random.Next(6, 16)), cookie, 0, 512), "unknown flag");
            case 7: return (Request(7, 0, cookie, 0, 4096), "block status without a context");
            default: return (Request(0, 0, cookie, 0, 64u << 20), "oversized read");
        }
    }

    private static byte[] Garbage(Random random)
    {
        byte[] garbage = new byte[random.Next(28, 200)];
        random.NextBytes(garbage);
        garbage[0] = (byte)(garbage[0] == 0x25 ? 0x26 : garbage[0]); // never the request magic
        return garbage;
    }

    private static byte[] PartialWrite(Random random, ulong cookie)
    {
        int length = 4096 * random.Next(1, 16);
        byte[] payload = new byte[random.Next(0, length)];
        random.NextBytes(payload);
        // The client vanishes mid-payload: the write must never reach the export.
        return [.. Request(1, 0, cookie, 0, (uint)length), .. payload, .. new byte[] { 0xff }];
    }

    /// <summary>A client written from the spec, byte by byte, for sending what no real client would.</summary>
    private sealed class Raw : IAsyncDisposable
    {
        private readonly Socket _socket;
        private readonly NetworkStream _stream;

        private Raw(Socket socket)
        {
            _socket = socket;
            _stream = new NetworkStream(socket, ownsSocket: true);
        }

        public static async Task<Raw> ConnectAsync(string path, bool structured, CancellationToken ct)
        {
            var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            await socket.ConnectAsync(new UnixDomainSocketEndPoint(path), ct);
            var raw = new Raw(socket);
            byte[] greeting = new byte[18];
            await raw._stream.ReadExactlyAsync(greeting, ct);
            await raw._stream.WriteAsync(new byte[] { 0, 0, 0, 3 }, ct);
            if (structured)
            {
                await raw.OptionAsync(8, [], ct);
            }

            await raw.OptionAsync(7, [0, 0, 0, 0, 0, 0], ct);
            return raw;
        }

        private async Task OptionAsync(uint option, byte[] data, CancellationToken ct)
        {
            byte[] header = new byte[16];
            BinaryPrimitives.WriteUInt64BigEndian(header, 0x49484156454F5054);
            BinaryPrimitives.WriteUInt32BigEndian(header.AsSpan(8), option);
            BinaryPrimitives.WriteUInt32BigEndian(header.AsSpan(12), (uint)data.Length);
            await _stream.WriteAsync((byte[])[.. header, .. data], ct);
            while (true)
            {
                byte[] reply = new byte[20];
                await _stream.ReadExactlyAsync(reply, ct);
                await _stream.ReadExactlyAsync(new byte[BinaryPrimitives.ReadUInt32BigEndian(reply.AsSpan(16))], ct);
                uint type = BinaryPrimitives.ReadUInt32BigEndian(reply.AsSpan(12));
                if (type == 1)
                {
                    return;
                }

                Assert.True(type < 0x80000000, $"option {option} failed: 0x{type:x}");
            }
        }

        public Task SendAsync(byte[] bytes, CancellationToken ct) => _stream.WriteAsync(bytes, ct).AsTask();

        /// <summary>Reads one whole reply (simple, or structured chunks up to DONE); returns its error and data.</summary>
        public async Task<(uint Error, byte[] Data)> ReceiveAsync(ulong cookie, int readLength, CancellationToken ct)
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
            timeout.CancelAfter(TimeSpan.FromSeconds(10));
            byte[] data = new byte[readLength];
            uint error = 0;
            while (true)
            {
                byte[] magic = new byte[4];
                await _stream.ReadExactlyAsync(magic, timeout.Token);
                if (BinaryPrimitives.ReadUInt32BigEndian(magic) == 0x67446698)
                {
                    byte[] rest = new byte[12];
                    await _stream.ReadExactlyAsync(rest, timeout.Token);
                    Assert.Equal(cookie, BinaryPrimitives.ReadUInt64BigEndian(rest.AsSpan(4)));
                    error = BinaryPrimitives.ReadUInt32BigEndian(rest);
                    if (error == 0 && readLength > 0)
                    {
                        await _stream.ReadExactlyAsync(data, timeout.Token);
                    }

                    return (error, data);
                }

                Assert.Equal(0x668e33efu, BinaryPrimitives.ReadUInt32BigEndian(magic));
                byte[] header = new byte[16];
                await _stream.ReadExactlyAsync(header, timeout.Token);
                ushort flags = BinaryPrimitives.ReadUInt16BigEndian(header);
                ushort type = BinaryPrimitives.ReadUInt16BigEndian(header.AsSpan(2));
                Assert.Equal(cookie, BinaryPrimitives.ReadUInt64BigEndian(header.AsSpan(4)));
                byte[] payload = new byte[BinaryPrimitives.ReadUInt32BigEndian(header.AsSpan(12))];
                await _stream.ReadExactlyAsync(payload, timeout.Token);
                if (type == 1)
                {
                    // Our server never fragments: one data chunk covers the whole read.
                    payload.AsSpan(8).CopyTo(data);
                }
                else if ((type & 0x8000) != 0)
                {
                    error = BinaryPrimitives.ReadUInt32BigEndian(payload);
                }

                if ((flags & 1) != 0)
                {
                    return (error, data);
                }
            }
        }

        public void Vanish() => _socket.Shutdown(SocketShutdown.Send);

        public async Task ExpectHangUpAsync(CancellationToken ct)
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
            timeout.CancelAfter(TimeSpan.FromSeconds(10));
            byte[] sink = new byte[4096];
            try
            {
                while (await _stream.ReadAsync(sink, timeout.Token) > 0)
                {
                }
            }
            catch (IOException)
            {
                // A reset is a hang-up too.
            }
        }

        public async ValueTask DisposeAsync()
        {
            await _stream.DisposeAsync();
            _socket.Dispose();
        }
    }
}
