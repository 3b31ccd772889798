using VirtualDevices.Block;
using VirtualDevices.Devices;

namespace VirtualDevices.Tests.Devices;

public sealed class DeviceStatisticsTests
{
    [Fact]
    public async Task StatisticsOverAnIntervalGiveRates()
    {
        await using var disk = new MemoryBlockDevice(1 << 20);
        var before = (BlockStatistics)disk.GetStatistics();
        await disk.WriteAsync(0, new byte[65536]);
        await Task.Delay(20);
        var after = (BlockStatistics)disk.GetStatistics();
        var interval = (BlockStatistics)after.Since(before);
        Assert.Equal(65536, interval.WriteBytes);
        Assert.Equal(before.Timestamp, interval.Start);
        Assert.True(interval.WriteBytesPerSecond > 0);
        Assert.Throws<ArgumentException>(() => after.Since(new NetworkStatistics("n", "d", DateTimeOffset.UtcNow, DateTimeOffset.UtcNow, 0, 0, 0, 0, 0, 0, 0, 0)));
    }
}
