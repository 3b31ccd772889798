using VirtualDevices.Block;
using VirtualDevices.Devices;

namespace VirtualDevices.Tests.Block;

/// <summary>Bad requests fail with typed errors before the device is touched, and are counted as errors.</summary>
public sealed class BlockDeviceValidationTests
{
    [Theory]
    [InlineData(-1, 1)]
    [InlineData(2048, 1)]
    [InlineData(2047, 2)]
    [InlineData(long.MaxValue, 1)]
    public async Task OutOfRangeReadsAndWritesAreRefused(long sector, int count)
    {
        await using var disk = new MemoryBlockDevice(1 << 20);
        var buffer = new byte[count * 512];
        var e = await Assert.ThrowsAsync<BlockOutOfRangeException>(() => disk.ReadAsync(sector, buffer).AsTask());
        Assert.Equal("BlockOutOfRange", e.ErrorId);
        await Assert.ThrowsAsync<BlockOutOfRangeException>(() => disk.WriteAsync(sector, buffer).AsTask());
        Assert.Equal(0, disk.AllocatedBytes);
    }

    [Fact]
    public async Task TrimAndZeroRangesAreChecked()
    {
        await using var disk = new MemoryBlockDevice(1 << 20);
        await Assert.ThrowsAsync<BlockOutOfRangeException>(() => disk.TrimAsync(2040, 9).AsTask());
        await Assert.ThrowsAsync<BlockOutOfRangeException>(() => disk.WriteZeroesAsync(0, -1).AsTask());
        await Assert.ThrowsAsync<BlockOutOfRangeException>(() => disk.GetAllocationAsync(2049, 1, new BlockExtent[1]).AsTask());
    }

    [Theory]
    [InlineData(1)]
    [InlineData(511)]
    [InlineData(513)]
    public async Task BuffersThatAreNotWholeSectorsAreRefused(int length)
    {
        await using var disk = new MemoryBlockDevice(1 << 20);
        var e = await Assert.ThrowsAsync<BlockMisalignedException>(() => disk.WriteAsync(0, new byte[length]).AsTask());
        Assert.Equal(512, e.Alignment);
        await Assert.ThrowsAsync<BlockMisalignedException>(() => disk.ReadAsync(0, new Memory<byte>[] { new byte[512], new byte[length] }).AsTask());
        Assert.Equal(0, disk.AllocatedBytes);
    }

    [Fact]
    public async Task ReadOnlyDevicesRefuseEveryChange()
    {
        await using var disk = new MemoryBlockDevice(1 << 20, readOnly: true);
        Assert.Equal("write", (await Assert.ThrowsAsync<BlockReadOnlyException>(() => disk.WriteAsync(0, new byte[512]).AsTask())).Operation);
        await Assert.ThrowsAsync<BlockReadOnlyException>(() => disk.WriteAsync(0, new ReadOnlyMemory<byte>[] { new byte[512] }).AsTask());
        await Assert.ThrowsAsync<BlockReadOnlyException>(() => disk.TrimAsync(0, 1).AsTask());
        await Assert.ThrowsAsync<BlockReadOnlyException>(() => disk.WriteZeroesAsync(0, 1).AsTask());
        Assert.Equal(0, disk.AllocatedBytes);
        var stats = (BlockStatistics)disk.GetStatistics();
        Assert.Equal(4, stats.Errors);
        Assert.Equal(0, stats.WriteOps);
    }

    [Fact]
    public async Task DisconnectedDevicesFailEveryRequestAndRaiseTheEventOnce()
    {
        var disk = new MemoryBlockDevice(1 << 20);
        int raised = 0;
        disk.Disconnected += (_, _) => raised++;
        await disk.DisconnectAsync();
        await disk.DisconnectAsync();
        Assert.False(disk.IsConnected);
        Assert.Equal(1, raised);
        var e = await Assert.ThrowsAsync<DeviceDisconnectedException>(() => disk.ReadAsync(0, new byte[512]).AsTask());
        Assert.Equal(DeviceErrorCategory.ConnectionError, e.Category);
        await Assert.ThrowsAsync<DeviceDisconnectedException>(() => disk.FlushAsync().AsTask());
    }

    [Fact]
    public async Task CancelledRequestsDoNotRun()
    {
        await using var disk = new MemoryBlockDevice(1 << 20);
        using var cts = new CancellationTokenSource();
        cts.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => disk.WriteAsync(0, new byte[512], cancellationToken: cts.Token).AsTask());
        Assert.Equal(0, disk.AllocatedBytes);
    }

    [Fact]
    public async Task StatisticsCountCompletedRequestsAndReset()
    {
        await using var disk = new MemoryBlockDevice(1 << 20);
        await disk.WriteAsync(0, new byte[4096]);
        await disk.ReadAsync(0, new byte[1024]);
        await disk.ReadAsync(0, new byte[512]);
        await disk.FlushAsync();
        await disk.TrimAsync(0, 1);
        await disk.WriteZeroesAsync(0, 1);
        var stats = (BlockStatistics)disk.GetStatistics();
        Assert.Equal((4096, 1, 1536, 2, 1, 1, 1, 0), (stats.WriteBytes, stats.WriteOps, stats.ReadBytes, stats.ReadOps, stats.FlushOps, stats.TrimOps, stats.ZeroOps, stats.Errors));
        Assert.True(stats.ReadBytesPerSecond > 0);
        var later = (BlockStatistics)disk.GetStatistics();
        var delta = (BlockStatistics)later.Since(stats);
        Assert.Equal(0, delta.ReadBytes);
        disk.ResetStatistics();
        Assert.Equal(0, ((BlockStatistics)disk.GetStatistics()).WriteBytes);
    }

    [Fact]
    public async Task UnadvertisedFeaturesAreUnimplemented()
    {
        await using var disk = new PlainDevice();
        await Assert.ThrowsAsync<DeviceUnimplementedException>(() => disk.FlushAsync().AsTask());
        await Assert.ThrowsAsync<DeviceUnimplementedException>(() => disk.TrimAsync(0, 1).AsTask());
        await Assert.ThrowsAsync<DeviceUnimplementedException>(() => disk.WriteZeroesAsync(0, 1).AsTask());
        await Assert.ThrowsAsync<DeviceUnimplementedException>(() => disk.WriteAsync(0, new byte[512], BlockWriteOptions.ForceUnitAccess).AsTask());
    }

    [Fact]
    public async Task DriverExceptionsBecomeTypedUnknownErrors()
    {
        await using var disk = new PlainDevice();
        var e = await Assert.ThrowsAsync<DeviceUnknownException>(() => disk.ReadAsync(0, new byte[512]).AsTask());
        Assert.IsType<InvalidOperationException>(e.InnerException);
        Assert.Equal(disk.Name, e.DeviceName);
    }

    /// <summary>A driver with no optional features whose reads fail with a non-device exception.</summary>
    private sealed class PlainDevice() : BlockDevice(null, "plain", "test", new BlockDeviceInfo(512, 16, readOnly: false, BlockFeatures.None))
    {
        protected override ValueTask ReadCoreAsync(long offset, Memory<byte> buffer, CancellationToken cancellationToken) =>
            throw new InvalidOperationException("driver bug");

        protected override ValueTask WriteCoreAsync(long offset, ReadOnlyMemory<byte> buffer, BlockWriteOptions options, CancellationToken cancellationToken) => default;
    }
}
