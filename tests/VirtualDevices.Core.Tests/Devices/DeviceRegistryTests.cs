using VirtualDevices.Block;
using VirtualDevices.Devices;
using VirtualDevices.Network;

namespace VirtualDevices.Tests.Devices;

public sealed class DeviceRegistryTests
{
    [Fact]
    public async Task ListsDevicesOfEveryFamilyUntilTheyAreRemovedEvenOnceDisconnected()
    {
        var registry = new DeviceRegistry();
        var disk = new MemoryBlockDevice(1 << 20, name: "disk-a");
        var (nic, peer) = MemoryNetworkDevice.CreatePair(firstName: "nic-a");
        registry.Add(disk);
        registry.Add(nic);
        Assert.Equal(["disk-a", "nic-a"], registry.Devices.Select(d => d.Name));
        Assert.Same(disk, registry.Get("disk-a"));

        // Disconnected (by its peer, or by anyone): still listed, so that using it by name says what happened.
        await disk.DisconnectAsync();
        Assert.Same(disk, registry.Get("disk-a"));
        Assert.False(registry.Get("disk-a").IsConnected);
        Assert.True(registry.Remove(disk));
        Assert.Equal(["nic-a"], registry.Devices.Select(d => d.Name));
        Assert.Throws<DeviceNotFoundException>(() => registry.Get("disk-a"));
        await registry.DisconnectAllAsync();
        Assert.Empty(registry.Devices);
        Assert.False(nic.IsConnected);
        await peer.DisposeAsync();
    }

    [Fact]
    public async Task RefusesADuplicateName()
    {
        var registry = new DeviceRegistry();
        await using var first = new MemoryBlockDevice(4096, name: "same");
        await using var second = new MemoryBlockDevice(4096, name: "same");
        registry.Add(first);
        var e = Assert.Throws<DeviceException>(() => registry.Add(second));
        Assert.Equal("DeviceNameInUse", e.ErrorId);
        Assert.Equal(DeviceErrorCategory.ResourceExists, e.Category);
    }

    [Fact]
    public void DefaultNamesAreUniquePerDriver()
    {
        var names = Enumerable.Range(0, 50).Select(_ => DeviceNames.Next("test")).ToList();
        Assert.Equal(names.Count, names.Distinct().Count());
        Assert.All(names, n => Assert.StartsWith("test", n, StringComparison.Ordinal));
    }

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
