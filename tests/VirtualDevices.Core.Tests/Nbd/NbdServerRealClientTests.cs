using VirtualDevices.Block;
using VirtualDevices.Nbd.Server;
using VirtualDevices.Tests.Infrastructure;

namespace VirtualDevices.Tests.Nbd;

/// <summary>Our server, checked by the real clients: nbdinfo, nbdcopy, nbdsh and qemu-img.</summary>
public sealed class NbdServerRealClientTests
{
    private static async Task<NbdServer> ServeAsync(string socket, params NbdExport[] exports)
    {
        var server = new NbdServer(new NbdServerOptions { UnixSocketPath = socket }, exports);
        await server.StartAsync();
        return server;
    }

    [Fact]
    public async Task NbdinfoSeesSizeFlagsExportsAndMap()
    {
        using var dir = new TempDirectory();
        string socket = dir.File("s.sock");
        await using var disk = new MemoryBlockDevice(16 << 20);
        await disk.WriteAsync(2048, TempDirectory.Pattern(1 << 20)); // 1 MiB of data at 1 MiB; the rest is holes
        await using var small = new MemoryBlockDevice(1 << 20, readOnly: true);
        await using NbdServer server = await ServeAsync(socket, new NbdExport("", disk, "the default disk"), new NbdExport("small", small, "read-only"));

        ProcessResult info = (await ExternalProcess.RunAsync("nbdinfo", [$"nbd+unix:///?socket={socket}"], NbdPeers.Timeout)).EnsureSuccess("nbdinfo");
        Assert.Contains("export-size: 16777216", info.StandardOutput);
        Assert.Contains("can_flush: true", info.StandardOutput);
        Assert.Contains("can_trim: true", info.StandardOutput);
        Assert.Contains("can_zero: true", info.StandardOutput);
        Assert.Contains("can_multi_conn: true", info.StandardOutput);
        Assert.Contains("is_read_only: false", info.StandardOutput);
        Assert.Contains("base:allocation", info.StandardOutput);
        Assert.Contains("block_size_minimum: 512", info.StandardOutput);

        ProcessResult list = (await ExternalProcess.RunAsync("nbdinfo", ["--list", $"nbd+unix:///?socket={socket}"], NbdPeers.Timeout)).EnsureSuccess("nbdinfo --list");
        Assert.Contains("export=\"small\"", list.StandardOutput);
        Assert.Contains("description: read-only", list.StandardOutput);
        Assert.Contains("is_read_only: true", list.StandardOutput);

        ProcessResult map = (await ExternalProcess.RunAsync("nbdinfo", ["--map", $"nbd+unix:///?socket={socket}"], NbdPeers.Timeout)).EnsureSuccess("nbdinfo --map");
        string[] lines = map.StandardOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        Assert.Equal(3, lines.Length);
        Assert.Matches(@"^0\s+1048576\s+3\s+hole,zero$", lines[0]);
        Assert.Matches(@"^1048576\s+1048576\s+0\s+data$", lines[1]);
        Assert.Matches(@"^2097152\s+14680064\s+3\s+hole,zero$", lines[2]);
    }
}

public sealed class NbdServerCopyTests
{
    [Fact]
    public async Task NbdcopyWritesAMostlySparseImageWhoseHolesExceedTheMaximumBlockSize()
    {
        // nbdcopy zeroes the holes of a sparse source with write-zeroes requests of up to the whole hole (here 200 MiB),
        // longer than the 32 MiB maximum block size, which binds only requests that carry the length as payload.
        using var dir = new TempDirectory();
        string socket = dir.File("s.sock");
        string source = dir.File("sparse.img");
        await using (var file = new FileStream(source, FileMode.CreateNew))
        {
            file.SetLength(256 << 20);
            file.Position = 8 << 20;
            file.Write(TempDirectory.Pattern(1 << 20));
        }

        await using var disk = new MemoryBlockDevice(256 << 20);
        await disk.WriteAsync(100 << 11, TempDirectory.Pattern(1 << 20, seed: 9)); // old data in a hole: must end zero
        await using var server = new NbdServer(new NbdServerOptions { UnixSocketPath = socket }, [new NbdExport("", disk)]);
        await server.StartAsync();

        (await ExternalProcess.RunAsync("nbdcopy", [source, $"nbd+unix:///?socket={socket}"], NbdPeers.Timeout)).EnsureSuccess("nbdcopy");

        var back = new byte[1 << 20];
        await disk.ReadAsync(8 << 11, back);
        Assert.Equal(TempDirectory.Pattern(1 << 20), back);
        await disk.ReadAsync(100 << 11, back);
        Assert.All(back, b => Assert.Equal(0, b));
    }

    [Fact]
    public async Task NbdcopyWritesAndReadsAFileBackedExport()
    {
        using var dir = new TempDirectory();
        string socket = dir.File("s.sock");
        string source = dir.PatternFile("source.img", 24 << 20, seed: 3);
        string backing = dir.File("backing.img");
        File.WriteAllBytes(backing, new byte[24 << 20]);
        await using (FileBlockDevice file = FileBlockDevice.Open(backing))
        {
            var server = new NbdServer(new NbdServerOptions { UnixSocketPath = socket }, new NbdExport("disk", file));
            await using (server)
            {
                await server.StartAsync();
                string uri = $"nbd+unix:///disk?socket={socket}";
                (await ExternalProcess.RunAsync("nbdcopy", ["--requests=16", "--connections=2", source, uri], NbdPeers.Timeout)).EnsureSuccess("nbdcopy to server");
                string copy = dir.File("copy.img");
                (await ExternalProcess.RunAsync("nbdcopy", [uri, copy], NbdPeers.Timeout)).EnsureSuccess("nbdcopy from server");
                Assert.Equal(NbdPeers.Sha256(File.ReadAllBytes(source)), NbdPeers.Sha256(File.ReadAllBytes(copy)));
                Assert.Equal(2, server.GetStatistics().TotalConnections >= 2 ? 2 : 0);
                Assert.True(server.GetStatistics().BytesWritten >= 24 << 20);
            }
        }

        Assert.Equal(NbdPeers.Sha256(File.ReadAllBytes(source)), NbdPeers.Sha256(File.ReadAllBytes(backing)));
    }

    [Fact]
    public async Task QemuImgConvertsIntoAndComparesWithTheExport()
    {
        using var dir = new TempDirectory();
        string socket = dir.File("q.sock");
        string source = dir.PatternFile("source.img", 8 << 20, seed: 5);
        await using var disk = new MemoryBlockDevice(8 << 20);
        await using var server = new NbdServer(new NbdServerOptions { UnixSocketPath = socket }, new NbdExport("", disk));
        await server.StartAsync();
        string uri = $"nbd+unix:///?socket={socket}";
        (await ExternalProcess.RunAsync("qemu-img", ["convert", "-n", "-f", "raw", "-O", "raw", source, uri], NbdPeers.Timeout)).EnsureSuccess("qemu-img convert");
        (await ExternalProcess.RunAsync("qemu-img", ["compare", "-f", "raw", "-F", "raw", source, uri], NbdPeers.Timeout)).EnsureSuccess("qemu-img compare");
        var back = new byte[8 << 20];
        await disk.ReadAsync(0, back);
        Assert.Equal(NbdPeers.Sha256(File.ReadAllBytes(source)), NbdPeers.Sha256(back));

        // A changed byte must make compare fail: the check above is not vacuous.
        await disk.WriteAsync(100, new byte[512]);
        ProcessResult differ = await ExternalProcess.RunAsync("qemu-img", ["compare", "-f", "raw", "-F", "raw", source, uri], NbdPeers.Timeout);
        Assert.Equal(1, differ.ExitCode);
    }

    [Fact]
    public async Task NbdshExercisesEveryCommand()
    {
        using var dir = new TempDirectory();
        string socket = dir.File("sh.sock");
        await using var disk = new MemoryBlockDevice(8 << 20);
        await using var server = new NbdServer(new NbdServerOptions { UnixSocketPath = socket }, new NbdExport("", disk));
        await server.StartAsync();
        const string script = """
            import nbd
            assert h.get_size() == 8 * 1024 * 1024
            assert h.get_structured_replies_negotiated()
            buf = bytes(range(256)) * 256
            h.pwrite(buf, 1048576)
            h.pwrite(buf, 2097152, nbd.CMD_FLAG_FUA)
            assert h.pread(65536, 1048576) == buf
            h.flush()
            h.zero(4096, 1048576 + 4096, nbd.CMD_FLAG_NO_HOLE)
            got = h.pread(65536, 1048576)
            assert got[:4096] == buf[:4096] and got[4096:8192] == bytes(4096) and got[8192:] == buf[8192:]
            h.trim(3 * 1048576, 1048576)
            h.cache(65536, 0)
            # many reads in flight on one connection
            h.pwrite(buf, 1048576)
            bufs = [nbd.Buffer(1024) for i in range(64)]
            cookies = [h.aio_pread(bufs[i], 1048576 + i * 1024) for i in range(64)]
            while h.aio_in_flight() > 0:
                h.poll(-1)
            for i, c in enumerate(cookies):
                assert h.aio_command_completed(c)
                assert bufs[i].to_bytearray() == buf[i * 1024:(i + 1) * 1024]
            # an unaligned request is refused with EINVAL, not served
            try:
                h.pread(100, 7)
                raise SystemExit("unaligned read accepted")
            except nbd.Error as e:
                assert e.errnum == 22, e
            # a read beyond the end too
            try:
                h.pread(4096, 8 * 1024 * 1024)
                raise SystemExit("read past the end accepted")
            except nbd.Error as e:
                pass
            entries = []
            h.block_status(8 * 1024 * 1024, 0, lambda ctx, off, ents, err: entries.extend(ents))
            assert len(entries) >= 2, entries
            print("ok")
            """;
        string scriptPath = dir.File("test.py");
        await File.WriteAllTextAsync(scriptPath, script);
        // Strict mode off: libnbd itself would refuse the unaligned request before sending it.
        ProcessResult run = await ExternalProcess.RunAsync("nbdsh", ["--base-allocation", "-u", $"nbd+unix:///?socket={socket}", "-c", "h.set_strict_mode(0)", "-c", $"exec(open('{scriptPath}').read())"], NbdPeers.Timeout,
            NbdPeers.SystemPython);
        run.EnsureSuccess("nbdsh");
        Assert.Contains("ok", run.StandardOutput);
        var back = new byte[4096];
        await disk.ReadAsync(2097152 / 512, back);
        Assert.All(back, b => Assert.Equal(0, b)); // trimmed: the memory disk reads holes as zeroes
    }
}
