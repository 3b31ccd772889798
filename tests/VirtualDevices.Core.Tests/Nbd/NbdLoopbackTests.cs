using System.Net;
using VirtualDevices.Block;
using VirtualDevices.Nbd;
using VirtualDevices.Nbd.Client;
using VirtualDevices.Nbd.Server;

namespace VirtualDevices.Tests.Nbd;

/// <summary>Our client against our server: the extensions no installed peer has (extended headers), and every command.</summary>
public sealed class NbdLoopbackTests
{
    [Theory]
    [InlineData(true, true)]
    [InlineData(false, true)]
    [InlineData(false, false)]
    public async Task EveryCommandWorksWithEachReplyStyle(bool extended, bool structured)
    {
        using var dir = new TempDirectory();
        string socket = dir.File("l.sock");
        await using var disk = new MemoryBlockDevice(32 << 20);
        await using var server = new NbdServer(new NbdServerOptions { UnixSocketPath = socket }, new NbdExport("", disk));
        await server.StartAsync();
        CancellationToken ct = NbdPeers.Deadline();
        NbdClientOptions options = NbdUri.Parse($"nbd+unix:///?socket={socket}") with
        {
            RequestExtendedHeaders = extended,
            RequestStructuredReplies = structured,
            Connections = 3,
        };
        await using NbdBlockDevice device = await NbdClient.ConnectAsync(options, ct);
        Assert.Equal(extended, device.ExtendedHeaders);
        Assert.Equal(structured, device.StructuredReplies);
        Assert.Equal(3, device.ConnectionCount);
        Assert.Equal(512, device.Info.SectorSize);
        Assert.Equal(structured, device.Info.Supports(BlockFeatures.AllocationStatus));

        byte[] data = TempDirectory.Pattern(8 << 20, seed: 21);
        await Task.WhenAll(Enumerable.Range(0, 32).Select(i =>
            device.WriteAsync(i * 512L, data.AsMemory(i * (256 << 10), 256 << 10), i % 2 == 0 ? BlockWriteOptions.ForceUnitAccess : BlockWriteOptions.None, ct).AsTask()));
        await device.FlushAsync(ct);
        var back = new byte[8 << 20];
        await device.ReadAsync(0, back, ct);
        Assert.Equal(NbdPeers.Sha256(data), NbdPeers.Sha256(back));

        await device.WriteZeroesAsync(2048, 2048, WriteZeroesOptions.FastOnly, ct);
        await device.TrimAsync(8192, 2048, ct);
        await device.CacheAsync(0, 100, ct);
        var zeroes = new byte[1 << 20];
        await device.ReadAsync(2048, zeroes, ct);
        Assert.All(zeroes, b => Assert.Equal(0, b));

        IReadOnlyList<BlockExtent> map = await device.GetAllocationMapAsync(ct);
        Assert.Equal(device.Info.SectorCount, map.Sum(e => e.Count));
        if (structured)
        {
            // The memory disk frees whole 1 MiB pages: sectors 2048..4095 became a hole, data remains around it.
            Assert.Contains(new BlockExtent(2048, 2048, BlockExtentFlags.Hole | BlockExtentFlags.Zero), map);
            Assert.Equal(BlockExtentFlags.Data, map[0].Flags);
        }

        // A request the server refuses is a typed error and the connection stays.
        BlockDeviceInfo info = device.Info;
        Assert.True(device.IsConnected);
        NbdServerStatistics statistics = server.GetStatistics();
        Assert.True(statistics.BytesWritten >= 8 << 20 && statistics.BytesRead >= 8 << 20, statistics.ToString());
        Assert.Equal(3, statistics.ActiveConnections);
        Assert.Equal(0, statistics.ProtocolViolations);
        _ = info;
    }

    [Fact]
    public async Task ListsExportsWithDescriptionsAndRefusesUnknownOnesAndReadOnlyWrites()
    {
        using var dir = new TempDirectory();
        await using var a = new MemoryBlockDevice(1 << 20);
        await using var b = new MemoryBlockDevice(2 << 20, sectorSize: 4096);
        await using var server = new NbdServer(new NbdServerOptions { TcpEndPoint = new IPEndPoint(IPAddress.Loopback, 0) },
            new NbdExport("alpha", a, "first"), new NbdExport("beta", b, "second", readOnly: true));
        await server.StartAsync();
        string root = $"nbd://127.0.0.1:{server.TcpEndPoint!.Port}";
        CancellationToken ct = NbdPeers.Deadline();
        IReadOnlyList<NbdExportInfo> exports = await NbdClient.ListExportsAsync(root, ct);
        Assert.Equal(["alpha", "beta"], exports.Select(e => e.Name).Order().ToArray());
        NbdExportInfo beta = exports.Single(e => e.Name == "beta");
        Assert.Equal("second", beta.Description);
        Assert.Equal(2L << 20, beta.Size);
        Assert.True(beta.ReadOnly);
        Assert.Equal(4096, beta.MinimumBlockSize);

        DeviceException missing = await Assert.ThrowsAnyAsync<DeviceException>(() => NbdClient.ConnectAsync(root + "/gamma", ct));
        Assert.Equal("DeviceNotFound", missing.ErrorId);
        Assert.Equal(DeviceErrorCategory.ObjectNotFound, missing.Category);
        Assert.Equal("The server has no export named 'gamma'.", missing.Message);
        await using NbdBlockDevice device = await NbdClient.ConnectAsync(root + "/beta", ct);
        Assert.Equal(4096, device.Info.SectorSize);
        Assert.True(device.Info.ReadOnly);
        await Assert.ThrowsAsync<BlockReadOnlyException>(() => device.WriteAsync(0, new byte[4096], cancellationToken: ct).AsTask());
        await Assert.ThrowsAsync<BlockMisalignedException>(() => device.ReadAsync(0, new byte[512], ct).AsTask());
    }

    [Fact]
    public async Task StoppingTheServerDisconnectsClientsAndLeavesDevicesOpen()
    {
        using var dir = new TempDirectory();
        string socket = dir.File("stop.sock");
        await using var disk = new MemoryBlockDevice(1 << 20);
        var server = new NbdServer(new NbdServerOptions { UnixSocketPath = socket }, new NbdExport("", disk));
        await server.StartAsync();
        CancellationToken ct = NbdPeers.Deadline();
        await using NbdBlockDevice device = await NbdClient.ConnectAsync($"nbd+unix:///?socket={socket}", ct);
        await device.WriteAsync(0, new byte[512], cancellationToken: ct);
        await server.StopAsync(ct).WaitAsync(TimeSpan.FromSeconds(20), ct);
        Assert.False(server.IsRunning);
        Assert.False(File.Exists(socket));
        await Assert.ThrowsAsync<DeviceDisconnectedException>(async () =>
        {
            for (int i = 0; i < 100; i++)
            {
                await device.ReadAsync(0, new byte[512], ct);
                await Task.Delay(20, ct);
            }
        });
        Assert.True(disk.IsConnected);
        await server.DisposeAsync();
    }

    [Fact]
    public void UrisRoundTripAndBadOnesAreDiagnosed()
    {
        NbdClientOptions tcp = NbdUri.Parse("nbds://example.com:10810/my%20disk?tls-certificates=/etc/pki&tls-verify-peer=0&x-connections=4");
        Assert.Equal(("example.com", 10810, "my disk", NbdTlsMode.Require, "/etc/pki", false, 4),
            (tcp.Host, tcp.Port, tcp.ExportName, tcp.Tls, tcp.TlsCertificatesDirectory, tcp.TlsVerifyPeer, tcp.Connections));
        Assert.Equal(tcp, NbdUri.Parse(NbdUri.Format(tcp)) with { });
        NbdClientOptions unix = NbdUri.Parse("nbd+unix:///?socket=/run/nbd.sock");
        Assert.Equal(("", "/run/nbd.sock", NbdTlsMode.Off), (unix.ExportName, unix.SocketPath, unix.Tls));
        Assert.Equal("//disk", "/" + NbdUri.Parse("nbd://h//disk").ExportName);
        Assert.Equal("::1", NbdUri.Parse("nbd://[::1]:99/").Host);
        Assert.Equal("\0abstract", NbdUri.Parse("nbd+unix:///?socket=%00abstract").SocketPath);
        Assert.Throws<FormatException>(() => NbdUri.Parse("nbd+unix:///x"));
        Assert.Throws<FormatException>(() => NbdUri.Parse("nbd://h/?colour=red"));
        Assert.Throws<FormatException>(() => NbdUri.Parse("http://h/"));
        Assert.Throws<FormatException>(() => NbdUri.Parse("nbd://h:99999/"));
    }

    [Fact]
    public async Task ADeviceThatBlocksStillServesRequestsSideBySide()
    {
        // Reads complete synchronously but slowly, like a cold disk: after a few of them the server stops running
        // requests on its reading thread and runs them on the thread pool, several at a time.
        using var dir = new TempDirectory();
        string socket = dir.File("b.sock");
        await using var disk = new BlockingDevice();
        await using var server = new NbdServer(new NbdServerOptions { UnixSocketPath = socket }, new NbdExport("", disk));
        await server.StartAsync();
        CancellationToken ct = NbdPeers.Deadline();
        await using NbdBlockDevice device = await NbdClient.ConnectAsync(NbdUri.Parse($"nbd+unix:///?socket={socket}"), ct);
        // Enough reads that, even with the thread pool busy with other tests, it grows and runs some side by side.
        await Task.WhenAll(Enumerable.Range(0, 64).Select(i => device.ReadAsync(i * 8L, new byte[4096], ct).AsTask()));
        Assert.True(disk.MostAtOnce >= 2, $"at most {disk.MostAtOnce} read at a time");
    }

    /// <summary>A disk whose reads block the calling thread for 20 ms, recording how many ran at once.</summary>
    private sealed class BlockingDevice() : BlockDevice(null, "blocking", "test", new BlockDeviceInfo(512, 2048, readOnly: true, BlockFeatures.None))
    {
        private int _now;
        private int _most;

        public int MostAtOnce => Volatile.Read(ref _most);

        protected override ValueTask ReadCoreAsync(long offset, Memory<byte> buffer, CancellationToken cancellationToken)
        {
            int now = Interlocked.Increment(ref _now);
            int most;
            while (now > (most = Volatile.Read(ref _most)) && Interlocked.CompareExchange(ref _most, now, most) != most)
            {
            }

            Thread.Sleep(20);
            Interlocked.Decrement(ref _now);
            buffer.Span.Clear();
            return default;
        }

        protected override ValueTask WriteCoreAsync(long offset, ReadOnlyMemory<byte> buffer, BlockWriteOptions options, CancellationToken cancellationToken) => default;
    }
}
