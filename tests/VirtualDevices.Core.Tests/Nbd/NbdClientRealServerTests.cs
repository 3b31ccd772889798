using System.Buffers.Binary;
using System.Globalization;
using VirtualDevices.Block;
using VirtualDevices.Nbd;
using VirtualDevices.Nbd.Client;
using VirtualDevices.Tests.Infrastructure;

namespace VirtualDevices.Tests.Nbd;

/// <summary>Our client against nbdkit (plugins and filters), qemu-nbd and nbd-server.</summary>
public sealed class NbdClientRealServerTests
{
    private static string Unix(string socket, string export = "") => $"nbd+unix:///{export}?socket={socket}";

    [Fact]
    public async Task ReadsNbdkitPatternAndRefusesWritesLocally()
    {
        using var dir = new TempDirectory();
        string socket = dir.File("p.sock");
        await using ExternalProcess nbdkit = await NbdPeers.NbdkitAsync(socket, "-r", "pattern", "size=64M");
        CancellationToken ct = NbdPeers.Deadline();
        await using NbdBlockDevice device = await NbdClient.ConnectAsync(Unix(socket), ct);
        Assert.True(device.Info.ReadOnly);
        var buffer = new byte[3 << 20];
        long offset = 17L << 20;
        await device.ReadAsync(offset / device.Info.SectorSize, buffer, ct);
        for (int i = 0; i < buffer.Length; i += 8)
        {
            Assert.Equal((ulong)(offset + i), BinaryPrimitives.ReadUInt64BigEndian(buffer.AsSpan(i)));
        }

        await Assert.ThrowsAsync<BlockReadOnlyException>(() => device.WriteAsync(0, new byte[device.Info.SectorSize], cancellationToken: ct).AsTask());
        Assert.True(device.IsConnected);
    }

    [Fact]
    public async Task AllocationMapMatchesNbdinfoOnTheSameExport()
    {
        using var dir = new TempDirectory();
        string socket = dir.File("m.sock");
        await using ExternalProcess nbdkit = await NbdPeers.NbdkitAsync(socket, "memory", "16M");
        CancellationToken ct = NbdPeers.Deadline();
        await using NbdBlockDevice device = await NbdClient.ConnectAsync(Unix(socket), ct);
        Assert.True(device.Info.Supports(BlockFeatures.AllocationStatus));
        int size = device.Info.SectorSize;
        await device.WriteAsync((1L << 20) / size, TempDirectory.Pattern(1 << 20), cancellationToken: ct);
        await device.WriteAsync((8L << 20) / size, TempDirectory.Pattern(256 << 10), cancellationToken: ct);
        await device.WriteZeroesAsync((8L << 20) / size, (64L << 10) / size, cancellationToken: ct);
        IReadOnlyList<BlockExtent> map = await device.GetAllocationMapAsync(ct);

        ProcessResult nbdinfo = (await ExternalProcess.RunAsync("nbdinfo", ["--map", Unix(socket)], NbdPeers.Timeout)).EnsureSuccess("nbdinfo --map");
        var expected = nbdinfo.StandardOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(line => line.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            .Select(f => new BlockExtent(long.Parse(f[0], CultureInfo.InvariantCulture) / size, long.Parse(f[1], CultureInfo.InvariantCulture) / size,
                (BlockExtentFlags)int.Parse(f[2], CultureInfo.InvariantCulture)))
            .ToList();
        Assert.True(expected.Count >= 3, nbdinfo.StandardOutput);
        Assert.Equal(expected, map);
    }

    [Fact]
    public async Task NbdkitErrorFilterErrorsBecomeTypedExceptions()
    {
        using var dir = new TempDirectory();
        string socket = dir.File("e.sock");
        await using ExternalProcess nbdkit = await NbdPeers.NbdkitAsync(socket, "--filter=error", "memory", "16M",
            "error-pread=EIO", "error-pread-rate=100%", "error-pwrite=ENOSPC", "error-pwrite-rate=100%", "error-trim=EPERM", "error-trim-rate=100%",
            "error-zero=EINVAL", "error-zero-rate=100%");
        CancellationToken ct = NbdPeers.Deadline();
        await using NbdBlockDevice device = await NbdClient.ConnectAsync(Unix(socket), ct);
        var buffer = new byte[64 << 10];
        BlockIOException read = await Assert.ThrowsAsync<BlockIOException>(() => device.ReadAsync(0, buffer, ct).AsTask());
        Assert.Equal(5, read.ErrorNumber);
        BlockIOException write = await Assert.ThrowsAsync<BlockIOException>(() => device.WriteAsync(0, buffer, cancellationToken: ct).AsTask());
        Assert.Equal(28, write.ErrorNumber);
        await Assert.ThrowsAsync<BlockReadOnlyException>(() => device.TrimAsync(0, 8, ct).AsTask());
        // EINVAL for a request inside the export is the server refusing it as invalid, not a range error.
        DeviceException zero = await Assert.ThrowsAsync<DeviceException>(() => device.WriteZeroesAsync(0, 8, cancellationToken: ct).AsTask());
        Assert.Equal("NbdInvalidRequest", zero.ErrorId);
        Assert.Equal(DeviceErrorCategory.InvalidArgument, zero.Category);
        Assert.Contains("refused the write-zeroes request", zero.Message);
        // Errors are per request: the connection stays usable.
        Assert.True(device.IsConnected);
        await device.FlushAsync(ct);
        Assert.Equal(4, device.GetStatistics() is { } s ? 4 : 0);
    }

    [Fact]
    public async Task DelayedServerIsAbandonedAfterTheRequestTimeout()
    {
        using var dir = new TempDirectory();
        string socket = dir.File("d.sock");
        await using ExternalProcess nbdkit = await NbdPeers.NbdkitAsync(socket, "--filter=delay", "memory", "16M", "rdelay=30");
        CancellationToken ct = NbdPeers.Deadline();
        var options = NbdUri.Parse(Unix(socket)) with { RequestTimeout = TimeSpan.FromMilliseconds(500) };
        await using NbdBlockDevice device = await NbdClient.ConnectAsync(options, ct);
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var reads = Enumerable.Range(0, 8).Select(i => device.ReadAsync(i * 8, new byte[4096], ct).AsTask()).ToArray();
        foreach (Task read in reads)
        {
            await Assert.ThrowsAsync<DeviceDisconnectedException>(() => read);
        }

        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(10), clock.Elapsed.ToString());
        Assert.False(device.IsConnected);
        await Assert.ThrowsAsync<DeviceDisconnectedException>(() => device.ReadAsync(0, new byte[4096], ct).AsTask());
    }

    [Fact]
    public async Task CancellationOfAPendingRequestLeavesTheConnectionUsable()
    {
        using var dir = new TempDirectory();
        string socket = dir.File("c.sock");
        await using ExternalProcess nbdkit = await NbdPeers.NbdkitAsync(socket, "--filter=delay", "memory", "16M", "rdelay=1");
        CancellationToken ct = NbdPeers.Deadline();
        await using NbdBlockDevice device = await NbdClient.ConnectAsync(Unix(socket), ct);
        await device.WriteAsync(0, TempDirectory.Pattern(4096), cancellationToken: ct);
        using var cancel = new CancellationTokenSource(TimeSpan.FromMilliseconds(100));
        var buffer = new byte[4096];
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => device.ReadAsync(0, buffer, cancel.Token).AsTask());
        // The late reply is discarded, not written into the caller's buffer.
        await Task.Delay(1500, ct);
        Assert.All(buffer, b => Assert.Equal(0, b));
        var again = new byte[4096];
        await device.ReadAsync(0, again, ct);
        Assert.Equal(TempDirectory.Pattern(4096), again);
    }

    [Fact]
    public async Task KilledServerFailsEveryPendingRequestPromptly()
    {
        using var dir = new TempDirectory();
        string socket = dir.File("k.sock");
        ExternalProcess nbdkit = await NbdPeers.NbdkitAsync(socket, "--filter=delay", "memory", "64M", "rdelay=2");
        await using (nbdkit)
        {
            CancellationToken ct = NbdPeers.Deadline();
            await using NbdBlockDevice device = await NbdClient.ConnectAsync(Unix(socket), ct);
            var buffers = Enumerable.Range(0, 16).Select(_ => new byte[1 << 20]).ToArray();
            var reads = buffers.Select((b, i) => device.ReadAsync(i * 2048L, b, ct).AsTask()).ToArray();
            await Task.Delay(300, ct);
            var clock = System.Diagnostics.Stopwatch.StartNew();
            using (var victim = System.Diagnostics.Process.GetProcessById(nbdkit.Id))
            {
                victim.Kill(); // SIGKILL: no chance to close connections politely
            }
            foreach (Task read in reads)
            {
                await Assert.ThrowsAsync<DeviceDisconnectedException>(() => read);
            }

            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(10));
            Assert.False(device.IsConnected);
        }
    }

    [Fact]
    public async Task MultiConnectionSpreadsRequestsOverSeveralSockets()
    {
        using var dir = new TempDirectory();
        string socket = dir.File("mc.sock");
        await using ExternalProcess nbdkit = await NbdPeers.NbdkitAsync(socket, "memory", "32M");
        CancellationToken ct = NbdPeers.Deadline();
        await using NbdBlockDevice device = await NbdClient.ConnectAsync(Unix(socket) + "&x-connections=4", ct);
        Assert.Equal(4, device.ConnectionCount);
        Assert.True(device.Info.Supports(BlockFeatures.MultiConnection));
        byte[] data = TempDirectory.Pattern(16 << 20, seed: 11);
        int size = device.Info.SectorSize;
        await Task.WhenAll(Enumerable.Range(0, 64).Select(i => device.WriteAsync(i * (256L << 10) / size, data.AsMemory(i * (256 << 10), 256 << 10), cancellationToken: ct).AsTask()));
        await device.FlushAsync(ct);
        var back = new byte[16 << 20];
        await device.ReadAsync(0, back, ct);
        Assert.Equal(NbdPeers.Sha256(data), NbdPeers.Sha256(back));
    }

    [Fact]
    public async Task QemuNbdServesAFileThatEndsUpWithTheWrittenData()
    {
        using var dir = new TempDirectory();
        string socket = dir.File("qn.sock");
        string image = dir.File("disk.img");
        File.WriteAllBytes(image, new byte[8 << 20]);
        byte[] data = TempDirectory.Pattern(4 << 20, seed: 9);
        await using (ExternalProcess qemu = await NbdPeers.QemuNbdAsync(socket, "-f", "raw", "-x", "disk", "--cache=writeback", image))
        {
            CancellationToken ct = NbdPeers.Deadline();
            await using NbdBlockDevice device = await NbdClient.ConnectAsync(Unix(socket, "disk"), ct);
            Assert.True(device.StructuredReplies);
            Assert.True(device.Info.Supports(BlockFeatures.Flush | BlockFeatures.ForceUnitAccess | BlockFeatures.Trim | BlockFeatures.WriteZeroes));
            int size = device.Info.SectorSize;
            await device.WriteAsync((2L << 20) / size, data, BlockWriteOptions.ForceUnitAccess, ct);
            await device.FlushAsync(ct);
            var back = new byte[4 << 20];
            await device.ReadAsync((2L << 20) / size, back, ct);
            Assert.Equal(NbdPeers.Sha256(data), NbdPeers.Sha256(back));
            IReadOnlyList<BlockExtent> map = await device.GetAllocationMapAsync(ct);
            Assert.Equal(device.Info.SectorCount, map.Sum(e => e.Count));
            await device.DisconnectAsync(ct);
            await qemu.WaitForExitAsync(TimeSpan.FromSeconds(10)); // qemu-nbd exits when its one client leaves
        }

        byte[] file = File.ReadAllBytes(image);
        Assert.Equal(NbdPeers.Sha256(data), NbdPeers.Sha256(file.AsSpan(2 << 20, 4 << 20)));
    }

    [Fact]
    public async Task NbdServerReferenceImplementationListsAndServesExports()
    {
        using var dir = new TempDirectory();
        string image = dir.File("ref.img");
        File.WriteAllBytes(image, new byte[4 << 20]);
        int port = ExternalProcess.FreeTcpPort();
        string config = dir.File("nbd-server.conf");
        string pidFile = dir.File("nbd-server.pid");
        // filesize: some sandboxes answer BLKGETSIZE64 on a regular file with 0, which nbd-server would believe.
        await File.WriteAllTextAsync(config, $"[generic]\nlistenaddr = 127.0.0.1\nport = {port}\nallowlist = true\n[ref]\nexportname = {image}\nfilesize = {4 << 20}\nflush = true\nfua = true\ntrim = true\n");
        // nbd-server -d serves a single connection, so it runs as the daemon it is and is killed by its pid file.
        // setsid: on exit nbd-server signals its whole process group, which would otherwise be the test host's.
        (await ExternalProcess.RunAsync("setsid", ["nbd-server", "-C", config, "-p", pidFile], NbdPeers.Timeout)).EnsureSuccess("nbd-server");
        using var daemon = new NbdPeers.PidFileProcess(pidFile);
        await daemon.WaitForTcpPortAsync(port);
        CancellationToken ct = NbdPeers.Deadline();
        IReadOnlyList<NbdExportInfo> exports = await NbdClient.ListExportsAsync($"nbd://127.0.0.1:{port}", ct);
        NbdExportInfo only = Assert.Single(exports);
        Assert.Equal("ref", only.Name);

        // nbd-server 3.24 answers NBD_OPT_INFO with a size of 0 before the export is opened (nbdinfo --list shows
        // the same); NBD_OPT_GO gives the real size, which must match what libnbd sees.
        ProcessResult nbdinfo = (await ExternalProcess.RunAsync("nbdinfo", ["--size", $"nbd://127.0.0.1:{port}/ref"], NbdPeers.Timeout)).EnsureSuccess("nbdinfo");
        await using NbdBlockDevice device = await NbdClient.ConnectAsync($"nbd://127.0.0.1:{port}/ref", ct);
        Assert.Equal(long.Parse(nbdinfo.StandardOutput.Trim(), CultureInfo.InvariantCulture), device.ExportSize);
        Assert.Equal(4L << 20, device.ExportSize);
        Assert.True(device.Info.Supports(BlockFeatures.Flush | BlockFeatures.ForceUnitAccess | BlockFeatures.Trim));
        byte[] data = TempDirectory.Pattern(1 << 20, seed: 2);
        await device.WriteAsync(0, data, BlockWriteOptions.ForceUnitAccess, ct);
        await device.FlushAsync(ct);
        var back = new byte[1 << 20];
        await device.ReadAsync(0, back, ct);
        Assert.Equal(data, back);
        await device.DisconnectAsync(ct);
        Assert.False(device.IsConnected);
        Assert.Equal(NbdPeers.Sha256(data), NbdPeers.Sha256(File.ReadAllBytes(image).AsSpan(0, 1 << 20)));
    }

    [Fact]
    public async Task ListsNbdkitExportsWithSizes()
    {
        using var dir = new TempDirectory();
        string socket = dir.File("l.sock");
        await using ExternalProcess nbdkit = await NbdPeers.NbdkitAsync(socket, "memory", "5M");
        IReadOnlyList<NbdExportInfo> exports = await NbdClient.ListExportsAsync(Unix(socket), NbdPeers.Deadline());
        NbdExportInfo export = Assert.Single(exports);
        Assert.Equal(5L << 20, export.Size);
        Assert.False(export.ReadOnly);
        Assert.True((export.Flags & NbdTransmissionFlags.SendFlush) != 0);
    }
}
