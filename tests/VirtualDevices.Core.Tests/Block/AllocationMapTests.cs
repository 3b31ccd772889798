using VirtualDevices.Block;

namespace VirtualDevices.Tests.Block;

public sealed class AllocationMapTests
{
    [Fact]
    public async Task MapsARamDiskIntoMergedRuns()
    {
        await using var disk = new MemoryBlockDevice(8 << 20, name: "map");
        await disk.WriteAsync(2048, new byte[2 << 20]); // pages 1 and 2
        var map = new List<BlockAllocationExtent>();
        await foreach (BlockAllocationExtent extent in disk.GetAllocationMapAsync(0, disk.Info.SectorCount))
        {
            map.Add(extent);
        }

        Assert.Equal(
            [
                new BlockAllocationExtent("map", 0, 2048, 512, BlockExtentFlags.Hole | BlockExtentFlags.Zero),
                new BlockAllocationExtent("map", 2048, 4096, 512, BlockExtentFlags.Data),
                new BlockAllocationExtent("map", 6144, 10240, 512, BlockExtentFlags.Hole | BlockExtentFlags.Zero),
            ],
            map);
        Assert.Equal("hole,zero", map[0].Description);
        Assert.Equal((1L << 20, 2L << 20), (map[1].Offset, map[1].Length));
    }

    [Fact]
    public async Task ASubRangeIsClippedToTheRange()
    {
        await using var disk = new MemoryBlockDevice(4 << 20, name: "sub");
        await disk.WriteAsync(0, new byte[1 << 20]);
        var map = new List<BlockAllocationExtent>();
        await foreach (BlockAllocationExtent extent in disk.GetAllocationMapAsync(1000, 2000))
        {
            map.Add(extent);
        }

        Assert.Equal(2, map.Count);
        Assert.Equal((1000L, 1048L, BlockExtentFlags.Data), (map[0].Sector, map[0].Count, map[0].Flags));
        Assert.Equal((2048L, 952L), (map[1].Sector, map[1].Count));
    }

    [Fact]
    public async Task ADeviceThatLiesAboutItsMapGivesATypedError()
    {
        await using var liar = new LyingDevice();
        await Assert.ThrowsAsync<DeviceUnknownException>(async () =>
        {
            await foreach (BlockAllocationExtent _ in liar.GetAllocationMapAsync(0, 16))
            {
            }
        });
    }

    /// <summary>Claims allocation status but answers about sectors it was not asked about.</summary>
    private sealed class LyingDevice() : BlockDevice(null, "liar", "test", new BlockDeviceInfo(512, 16, false, BlockFeatures.AllocationStatus))
    {
        protected override ValueTask ReadCoreAsync(long offset, Memory<byte> buffer, CancellationToken cancellationToken) => default;

        protected override ValueTask WriteCoreAsync(long offset, ReadOnlyMemory<byte> buffer, BlockWriteOptions options, CancellationToken cancellationToken) => default;

        protected override ValueTask<int> GetAllocationCoreAsync(long sector, long count, Memory<BlockExtent> extents, CancellationToken cancellationToken)
        {
            extents.Span[0] = new BlockExtent(sector + 5, 3, BlockExtentFlags.Data);
            return new ValueTask<int>(1);
        }
    }
}
