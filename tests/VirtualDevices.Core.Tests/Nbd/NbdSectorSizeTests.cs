using VirtualDevices.Nbd.Client;
using VirtualDevices.Tests.Infrastructure;

namespace VirtualDevices.Tests.Nbd;

/// <summary>
/// The sector size an NBD device gets from the export's block size constraints: qemu-nbd and nbdkit advertise a
/// minimum block size of 1, which must not make 1-byte sectors (every copy's sector numbers would mean bytes).
/// </summary>
public sealed class NbdSectorSizeTests : IDisposable
{
    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    [Fact]
    public async Task AQemuNbdExportOfMinimumBlockSize1Has512ByteSectors()
    {
        string image = _temp.PatternFile("disk.img", 4 << 20);
        string socket = _temp.File("q.sock");
        await using ExternalProcess qemu = await NbdPeers.QemuNbdAsync(socket, "-f", "raw", "-t", image);
        CancellationToken ct = NbdPeers.Deadline();
        (NbdExportInfo info, _) = await ListFirstAsync(socket, ct);
        Assert.Equal(1, info.MinimumBlockSize);

        await using NbdBlockDevice device = await NbdClient.ConnectAsync($"nbd+unix:///?socket={socket}", ct);
        Assert.Equal(512, device.Info.SectorSize);
        Assert.Equal((4 << 20) / 512, device.Info.SectorCount);
        Assert.Equal(0, device.Info.TrailingBytes);
        var sector = new byte[512];
        await device.ReadAsync(3, sector, ct);
        Assert.Equal(File.ReadAllBytes(image)[1536..2048], sector);
    }

    [Fact]
    public async Task AnExportWhoseSizeIsNotAMultipleOf512KeepsItsMinimumBlockSize()
    {
        string socket = _temp.File("k.sock");
        await using ExternalProcess nbdkit = await NbdPeers.NbdkitAsync(socket, "memory", "1000");
        await using NbdBlockDevice device = await NbdClient.ConnectAsync($"nbd+unix:///?socket={socket}", NbdPeers.Deadline());
        Assert.Equal(1, device.Info.SectorSize);
        Assert.Equal(1000, device.Info.SectorCount);
    }

    [Fact]
    public async Task AMinimumBlockSizeAbove512IsTheSectorSize()
    {
        string socket = _temp.File("b.sock");
        await using ExternalProcess nbdkit = await NbdPeers.NbdkitAsync(socket, "--filter=blocksize-policy", "memory", "1M",
            "blocksize-minimum=4096", "blocksize-preferred=4096", "blocksize-maximum=1M");
        await using NbdBlockDevice device = await NbdClient.ConnectAsync($"nbd+unix:///?socket={socket}", NbdPeers.Deadline());
        Assert.Equal(4096, device.Info.SectorSize);
        Assert.Equal(256, device.Info.SectorCount);
    }

    private static async Task<(NbdExportInfo Info, int Count)> ListFirstAsync(string socket, CancellationToken ct)
    {
        IReadOnlyList<NbdExportInfo> exports = await NbdClient.ListExportsAsync(new NbdClientOptions { SocketPath = socket }, ct);
        return (exports[0], exports.Count);
    }
}
