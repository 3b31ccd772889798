using VirtualDevices.Block;
using VirtualDevices.Nbd;
using VirtualDevices.Nbd.Client;
using VirtualDevices.Tests.Infrastructure;

namespace VirtualDevices.Tests.Nbd;

public sealed class NbdClientNbdkitTests
{
    [Fact]
    public async Task WritesAndReadsBackThroughNbdkitMemory()
    {
        using var dir = new TempDirectory();
        string socket = dir.File("nbd.sock");
        await using ExternalProcess nbdkit = await NbdPeers.NbdkitAsync(socket, "memory", "64M");
        CancellationToken ct = NbdPeers.Deadline();
        await using NbdBlockDevice device = await NbdClient.ConnectAsync($"nbd+unix:///?socket={socket}", ct);

        Assert.Equal("nbd", device.Driver);
        Assert.Equal(64L << 20, device.ExportSize);
        Assert.True(device.StructuredReplies);
        Assert.True(device.Info.Supports(BlockFeatures.Flush | BlockFeatures.Trim | BlockFeatures.WriteZeroes | BlockFeatures.AllocationStatus));

        byte[] data = TempDirectory.Pattern(8 << 20, seed: 7);
        int sectorSize = device.Info.SectorSize;
        var writes = new List<Task>();
        for (int i = 0; i < 32; i++)
        {
            int start = i * (256 << 10);
            writes.Add(device.WriteAsync((long)start / sectorSize + ((4L << 20) / sectorSize), data.AsMemory(start, 256 << 10), cancellationToken: ct).AsTask());
        }

        await Task.WhenAll(writes);
        await device.FlushAsync(ct);
        var back = new byte[8 << 20];
        await device.ReadAsync((4L << 20) / sectorSize, back, ct);
        Assert.Equal(NbdPeers.Sha256(data), NbdPeers.Sha256(back));

        var untouched = new byte[1 << 20];
        await device.ReadAsync(0, untouched, ct);
        Assert.All(untouched, b => Assert.Equal(0, b));
    }

    [Fact]
    public async Task CopiesAnExportIntoAFileAndAFileOntoAnExport()
    {
        // What Read-BlockDevice -OutFile and Write-BlockDevice -InFile do, against nbdkit: the copy to a file writes
        // each transfer at its offset from the connection's reading thread, the copy from a file keeps writes in flight.
        using var dir = new TempDirectory();
        string socket = dir.File("copy.sock");
        await using ExternalProcess nbdkit = await NbdPeers.NbdkitAsync(socket, "memory", "24M");
        CancellationToken ct = NbdPeers.Deadline();
        await using NbdBlockDevice device = await NbdClient.ConnectAsync($"nbd+unix:///?socket={socket}", ct);
        byte[] data = TempDirectory.Pattern(24 << 20, seed: 11);
        string source = dir.File("source.img");
        await File.WriteAllBytesAsync(source, data, ct);

        await using (var input = new FileStream(source, FileMode.Open, FileAccess.Read, FileShare.Read, 1))
        {
            Assert.Equal(data.Length, await device.WriteFromAsync(0, input, cancellationToken: ct));
        }

        string copy = dir.File("copy.img");
        await using (var output = new FileStream(copy, FileMode.Create, FileAccess.Write, FileShare.None, 1))
        {
            Assert.Equal(data.Length, await device.CopyToAsync(0, device.Info.SectorCount, output, cancellationToken: ct));
            Assert.Equal(data.Length, output.Position);
        }

        Assert.Equal(NbdPeers.Sha256(data), NbdPeers.Sha256(await File.ReadAllBytesAsync(copy, ct)));
    }
}
