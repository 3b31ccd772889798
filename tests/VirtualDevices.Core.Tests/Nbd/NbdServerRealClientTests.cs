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
