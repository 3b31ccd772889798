using VirtualDevices.Nbd.Client;
using VirtualDevices.Tests.Infrastructure;

namespace VirtualDevices.Tests.Nbd;

/// <summary>
/// An export whose size is not a multiple of the server's minimum block size has a tail no aligned request can reach:
/// the device says how many bytes that is instead of losing them silently.
/// </summary>
public sealed class NbdExportTailTests
{
    [Fact]
    public async Task AMinimumBlockSizeThatDoesNotDivideTheExportSizeLeavesATailTheDeviceReports()
    {
        // 1,000,001 bytes with a 512-byte minimum block: 1,953 whole blocks (999,936 bytes) and 65 bytes beyond them.
        using var dir = new TempDirectory();
        string socket = dir.File("tail.sock");
        await using ExternalProcess nbdkit = await NbdPeers.NbdkitAsync(socket, "--filter=blocksize-policy", "memory", "1000001",
            "blocksize-minimum=512", "blocksize-error-policy=error");
        CancellationToken ct = NbdPeers.Deadline();
        await using NbdBlockDevice device = await NbdClient.ConnectAsync($"nbd+unix:///?socket={socket}", ct);

        Assert.Equal(1_000_001, device.ExportSize);
        Assert.Equal(512, device.Info.SectorSize);
        Assert.Equal(1953, device.Info.SectorCount);
        Assert.Equal(65, device.Info.TrailingBytes);

        // Everything up to the last whole block is reachable (the server refuses unaligned requests here).
        byte[] data = TempDirectory.Pattern(512, seed: 3);
        await device.WriteAsync(1952, data, cancellationToken: ct);
        byte[] back = new byte[512];
        await device.ReadAsync(1952, back, ct);
        Assert.Equal(data, back);
    }

    [Fact]
    public async Task WithoutAMinimumBlockSizeAnOddExportIsReachableToTheLastByte()
    {
        using var dir = new TempDirectory();
        string socket = dir.File("odd.sock");
        await using ExternalProcess nbdkit = await NbdPeers.NbdkitAsync(socket, "memory", "1000001");
        CancellationToken ct = NbdPeers.Deadline();
        await using NbdBlockDevice device = await NbdClient.ConnectAsync($"nbd+unix:///?socket={socket}", ct);

        Assert.Equal(1_000_001, device.ExportSize);
        Assert.Equal(0, device.Info.TrailingBytes);
        Assert.Equal(1_000_001, device.Info.SectorCount * device.Info.SectorSize);
    }
}
