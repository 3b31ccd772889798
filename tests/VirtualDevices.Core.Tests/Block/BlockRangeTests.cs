using VirtualDevices.Block;

namespace VirtualDevices.Tests.Block;

/// <summary>The range rules every device and command shares: sectors within the device, bytes on sector boundaries.</summary>
public sealed class BlockRangeTests
{
    [Theory]
    [InlineData(0, 0, true)]
    [InlineData(0, 8, true)]
    [InlineData(8, 0, true)]   // an empty range at the very end is allowed
    [InlineData(7, 1, true)]
    [InlineData(7, 2, false)]
    [InlineData(9, 0, false)]
    [InlineData(-1, 1, false)]
    [InlineData(0, -1, false)]
    [InlineData(1, long.MaxValue, false)] // no overflow in sector + count
    public void Check_accepts_exactly_the_ranges_within_the_device(long sector, long count, bool valid)
    {
        BlockOutOfRangeException? error = BlockRange.Check("d", sector, count, 8);
        Assert.Equal(valid, error is null);
        if (error is not null)
        {
            Assert.Equal("BlockOutOfRange", error.ErrorId);
        }
    }

    [Fact]
    public async Task Resolve_takes_sectors_or_bytes_defaulting_to_the_rest_of_the_device()
    {
        await using var device = new MemoryBlockDevice(1 << 20); // 2048 sectors of 512 bytes
        Assert.Equal((0L, 2048L), BlockRange.Resolve(device, null, null, null, null));
        Assert.Equal((2040L, 8L), BlockRange.Resolve(device, 2040, null, null, null));
        Assert.Equal((2L, 3L), BlockRange.Resolve(device, 2, 3, null, null));
        Assert.Equal((2L, 3L), BlockRange.Resolve(device, null, null, 1024, 1536));
        Assert.Equal((2046L, 2L), BlockRange.Resolve(device, null, null, 2046 * 512, null));
    }

    [Fact]
    public async Task Resolve_refuses_mixed_units_misaligned_bytes_and_ranges_past_the_end()
    {
        await using var device = new MemoryBlockDevice(1 << 20);
        Assert.Throws<ArgumentException>(() => BlockRange.Resolve(device, 1, null, 512, null));
        Assert.Throws<BlockMisalignedException>(() => BlockRange.Resolve(device, null, null, 100, null));
        Assert.Throws<BlockMisalignedException>(() => BlockRange.Resolve(device, null, null, 0, 100));
        Assert.Throws<BlockOutOfRangeException>(() => BlockRange.Resolve(device, 2048, 1, null, null));
        Assert.Throws<BlockOutOfRangeException>(() => BlockRange.Resolve(device, 2049, null, null, null));
    }
}
