using VirtualDevices.Block;

namespace VirtualDevices.Tests.Block;

public sealed class MemoryBlockDeviceTests
{
    [Fact]
    public async Task WrittenSectorsReadBackAndTheRestIsZero()
    {
        await using var disk = new MemoryBlockDevice(4 << 20);
        byte[] data = TempDirectory.Pattern(3 * 512);
        await disk.WriteAsync(2047, data); // spans the first 1 MiB page boundary
        var back = new byte[5 * 512];
        await disk.ReadAsync(2046, back);
        Assert.All(back[..512], b => Assert.Equal(0, b));
        Assert.Equal(data, back[512..(4 * 512)]);
        Assert.All(back[(4 * 512)..], b => Assert.Equal(0, b));
    }

    [Fact]
    public async Task ScatterAndGatherMatchSingleBufferTransfers()
    {
        await using var disk = new MemoryBlockDevice(1 << 20);
        byte[] a = TempDirectory.Pattern(512, 1), b = TempDirectory.Pattern(1024, 2);
        await disk.WriteAsync(10, new ReadOnlyMemory<byte>[] { a, b });
        var whole = new byte[1536];
        await disk.ReadAsync(10, whole);
        Assert.Equal(a.Concat(b).ToArray(), whole);
        var x = new byte[1024];
        var y = new byte[512];
        await disk.ReadAsync(10, new Memory<byte>[] { x, y });
        Assert.Equal(whole[..1024], x);
        Assert.Equal(whole[1024..], y);
    }

    [Fact]
    public async Task TrimOfWholePagesFreesThemAndReportsHoles()
    {
        await using var disk = new MemoryBlockDevice(4 << 20);
        await disk.WriteAsync(0, TempDirectory.Pattern(4 << 20));
        Assert.Equal(4 << 20, disk.AllocatedBytes);
        await disk.TrimAsync(2048, 4096); // pages 1 and 2
        Assert.Equal(2 << 20, disk.AllocatedBytes);
        var extents = new BlockExtent[8];
        int n = await disk.GetAllocationAsync(0, disk.Info.SectorCount, extents);
        Assert.Equal(
            new[]
            {
                new BlockExtent(0, 2048, BlockExtentFlags.Data),
                new BlockExtent(2048, 4096, BlockExtentFlags.Hole | BlockExtentFlags.Zero),
                new BlockExtent(6144, 2048, BlockExtentFlags.Data),
            },
            extents[..n]);
        var back = new byte[512];
        await disk.ReadAsync(3000, back);
        Assert.All(back, b => Assert.Equal(0, b));
    }

    [Fact]
    public async Task PartialPageZeroingClearsOnlyThatRange()
    {
        await using var disk = new MemoryBlockDevice(1 << 20);
        byte[] data = TempDirectory.Pattern(4 * 512);
        await disk.WriteAsync(0, data);
        await disk.WriteZeroesAsync(1, 2);
        var back = new byte[4 * 512];
        await disk.ReadAsync(0, back);
        Assert.Equal(data[..512], back[..512]);
        Assert.All(back[512..1536], b => Assert.Equal(0, b));
        Assert.Equal(data[1536..], back[1536..]);
    }

    [Fact]
    public void SizeMustBeWholeSectors()
    {
        Assert.Throws<ArgumentException>(() => new MemoryBlockDevice(1000));
    }
}
