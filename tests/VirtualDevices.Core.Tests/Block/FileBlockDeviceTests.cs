using System.Security.Cryptography;
using VirtualDevices.Block;
using VirtualDevices.Devices;

namespace VirtualDevices.Tests.Block;

public sealed class FileBlockDeviceTests : IDisposable
{
    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    [Fact]
    public async Task ReadsTheFileAndIgnoresATrailingPartialSector()
    {
        string path = _temp.PatternFile("disk.img", 10 * 512 + 100);
        await using FileBlockDevice disk = FileBlockDevice.Open(path);
        Assert.Equal(10, disk.Info.SectorCount);
        Assert.False(disk.IsBlockSpecial);
        Assert.Equal("file", disk.Driver);
        var buffer = new byte[10 * 512];
        await disk.ReadAsync(0, buffer);
        Assert.Equal(File.ReadAllBytes(path)[..(10 * 512)], buffer);
    }

    [Fact]
    public async Task WritesLandInTheFileAtTheRightOffset()
    {
        string path = _temp.PatternFile("disk.img", 64 * 1024);
        byte[] before = File.ReadAllBytes(path);
        byte[] data = TempDirectory.Pattern(1024, 7);
        await using (FileBlockDevice disk = FileBlockDevice.Open(path))
        {
            await disk.WriteAsync(5, data);
            await disk.FlushAsync();
        }

        byte[] after = File.ReadAllBytes(path);
        Assert.Equal(before[..2560], after[..2560]);
        Assert.Equal(data, after[2560..3584]);
        Assert.Equal(before[3584..], after[3584..]);
    }

    [Fact]
    public async Task ScatterGatherAndFuaWritesRoundTrip()
    {
        string path = _temp.PatternFile("disk.img", 64 * 1024);
        await using FileBlockDevice disk = FileBlockDevice.Open(path);
        byte[] a = TempDirectory.Pattern(512, 1), b = TempDirectory.Pattern(2048, 2), c = TempDirectory.Pattern(512, 3);
        await disk.WriteAsync(3, new ReadOnlyMemory<byte>[] { a, b, c }, BlockWriteOptions.ForceUnitAccess);
        var x = new byte[1024];
        var y = new byte[2048];
        await disk.ReadAsync(3, new Memory<byte>[] { x, y });
        Assert.Equal(a.Concat(b).Concat(c).ToArray(), x.Concat(y).ToArray());
    }

    [Fact]
    public async Task DirectIOReadsAndWritesUnalignedBuffersThroughABounce()
    {
        string path = _temp.PatternFile("disk.img", 1 << 20);
        FileBlockDevice disk;
        try
        {
            disk = FileBlockDevice.Open(path, new FileBlockDeviceOptions { Direct = true });
        }
        catch (BlockIOException e) when (e.ErrorNumber == 22)
        {
            // tmpfs refuses O_DIRECT (EINVAL); then there is nothing to test on this file system.
            Assert.Equal("open", e.Operation);
            return;
        }

        await using (disk)
        {
            byte[] data = TempDirectory.Pattern(3 * 512, 9);
            Memory<byte> unaligned = new byte[3 * 512 + 1].AsMemory(1);
            data.CopyTo(unaligned);
            await disk.WriteAsync(1, unaligned);
            var back = new byte[3 * 512 + 3];
            await disk.ReadAsync(1, back.AsMemory(3));
            Assert.Equal(data, back[3..]);
        }
    }

    [Fact]
    public async Task TrimAndZeroingReadBackAsZeroesAndLeaveNeighboursAlone()
    {
        string path = _temp.PatternFile("disk.img", 1 << 20);
        byte[] original = File.ReadAllBytes(path);
        await using FileBlockDevice disk = FileBlockDevice.Open(path);
        await disk.WriteZeroesAsync(8, 8, WriteZeroesOptions.NoHole);
        await disk.WriteZeroesAsync(64, 16);
        var back = new byte[1 << 20];
        await disk.ReadAsync(0, back);
        Assert.Equal(original[..4096], back[..4096]);
        Assert.All(back[4096..8192], b => Assert.Equal(0, b));
        Assert.Equal(original[8192..32768], back[8192..32768]);
        Assert.All(back[32768..40960], b => Assert.Equal(0, b));
        Assert.Equal(original[40960..], back[40960..]);
        await disk.TrimAsync(512, 512);
        Assert.True(disk.Info.Supports(BlockFeatures.Trim));
    }

    [Fact]
    public async Task AllocationStatusFollowsHolesOfASparseFile()
    {
        string path = _temp.File("sparse.img");
        using (var file = new FileStream(path, FileMode.CreateNew))
        {
            file.SetLength(4 << 20);
            file.Position = 1 << 20;
            file.Write(TempDirectory.Pattern(1 << 20));
        }

        await using FileBlockDevice disk = FileBlockDevice.Open(path);
        var extents = new BlockExtent[16];
        int n = await disk.GetAllocationAsync(0, disk.Info.SectorCount, extents);
        BlockExtent[] found = extents[..n];
        Assert.Equal(0, found[0].Sector);
        Assert.Equal(disk.Info.SectorCount, found.Sum(e => e.Count));
        for (int i = 1; i < n; i++)
        {
            Assert.Equal(found[i - 1].Sector + found[i - 1].Count, found[i].Sector);
            Assert.NotEqual(found[i - 1].Flags, found[i].Flags);
        }

        // The written megabyte is data; the first and last megabytes are holes that read as zeroes.
        Assert.Contains(found, e => e.Flags == BlockExtentFlags.Data && e.Sector <= 2048 && e.Sector + e.Count >= 4096);
        Assert.Contains(found, e => e.Flags == (BlockExtentFlags.Hole | BlockExtentFlags.Zero) && e.Sector + e.Count == disk.Info.SectorCount);
    }

    [Fact]
    public void AMissingFileIsDeviceNotFound()
    {
        var e = Assert.Throws<DeviceNotFoundException>(() => FileBlockDevice.Open(_temp.File("nope.img")));
        Assert.Equal(DeviceErrorCategory.ObjectNotFound, e.Category);
    }

    [Fact]
    public void ADirectoryIsRefused()
    {
        var e = Assert.ThrowsAny<DeviceException>(() => FileBlockDevice.Open(_temp.Path));
        Assert.Equal(DeviceErrorCategory.InvalidArgument, e.Category);
        var readOnly = Assert.ThrowsAny<DeviceException>(() => FileBlockDevice.Open(_temp.Path, new FileBlockDeviceOptions { ReadOnly = true }));
        Assert.Equal("DeviceNotBlockCapable", readOnly.ErrorId);
    }

    [Fact]
    public async Task AReadOnlyOpenRefusesWritesAndLeavesTheFileUntouched()
    {
        string path = _temp.PatternFile("disk.img", 8192);
        byte[] before = File.ReadAllBytes(path);
        await using FileBlockDevice disk = FileBlockDevice.Open(path, new FileBlockDeviceOptions { ReadOnly = true });
        await Assert.ThrowsAsync<BlockReadOnlyException>(() => disk.WriteAsync(0, new byte[512]).AsTask());
        await Assert.ThrowsAsync<BlockReadOnlyException>(() => disk.TrimAsync(0, 1).AsTask());
        Assert.Equal(before, File.ReadAllBytes(path));
    }

    [Fact]
    public async Task AFileThatShrinksUnderTheDeviceGivesAnIOErrorNotZeroes()
    {
        string path = _temp.PatternFile("disk.img", 64 * 1024);
        await using FileBlockDevice disk = FileBlockDevice.Open(path);
        File.WriteAllBytes(path, new byte[4096]); // truncated by someone else
        var e = await Assert.ThrowsAsync<BlockIOException>(() => disk.ReadAsync(100, new byte[512]).AsTask());
        Assert.Equal("read", e.Operation);
        Assert.Equal(DeviceErrorCategory.ReadError, e.Category);
        Assert.Equal(1, ((BlockStatistics)disk.GetStatistics()).Errors);
    }

    [Fact]
    public async Task AFileDeletedWhileOpenStaysReadableThroughItsDescriptor()
    {
        string path = _temp.PatternFile("disk.img", 8192);
        byte[] content = File.ReadAllBytes(path);
        await using FileBlockDevice disk = FileBlockDevice.Open(path);
        File.Delete(path);
        var back = new byte[8192];
        await disk.ReadAsync(0, back);
        Assert.Equal(content, back);
    }

    [Fact]
    public async Task DisconnectingMidReadEndsTheStreamWithATypedError()
    {
        string path = _temp.PatternFile("disk.img", 1 << 20);
        FileBlockDevice disk = FileBlockDevice.Open(path);
        int chunks = 0;
        var e = await Assert.ThrowsAsync<DeviceDisconnectedException>(async () =>
        {
            await foreach (BlockData chunk in disk.ReadSectorsAsync(0, disk.Info.SectorCount, 64))
            {
                if (++chunks == 3)
                {
                    await disk.DisconnectAsync();
                }
            }
        });
        Assert.Equal(3, chunks);
        Assert.Equal(disk.Name, e.DeviceName);
    }

    [Fact]
    public async Task CreateMakesASparseImageAndRefusesToOverwrite()
    {
        string path = _temp.File("new.img");
        await using (FileBlockDevice disk = FileBlockDevice.Create(path, 8 << 20))
        {
            Assert.Equal(8 << 20, disk.Info.SizeBytes);
            await disk.WriteAsync(0, TempDirectory.Pattern(512));
        }

        Assert.Equal(8 << 20, new FileInfo(path).Length);
        var e = Assert.ThrowsAny<DeviceException>(() => FileBlockDevice.Create(path, 8 << 20));
        Assert.Equal("DeviceImageExists", e.ErrorId);
        Assert.Throws<BlockMisalignedException>(() => FileBlockDevice.Create(_temp.File("odd.img"), 1000));
    }

    [Fact]
    public async Task CopyToAndWriteFromStreamRoundTrip()
    {
        string path = _temp.PatternFile("disk.img", 3 << 20);
        await using FileBlockDevice source = FileBlockDevice.Open(path, new FileBlockDeviceOptions { ReadOnly = true });
        using var copy = new MemoryStream();
        var reports = new List<long>();
        long copied = await source.CopyToAsync(0, source.Info.SectorCount, copy, new SynchronousProgress(reports.Add));
        Assert.Equal(3 << 20, copied);
        Assert.Equal(3 << 20, reports[^1]);
        Assert.Equal(SHA256.HashData(File.ReadAllBytes(path)), SHA256.HashData(copy.ToArray()));

        await using var target = new MemoryBlockDevice(4 << 20);
        copy.Position = 0;
        Assert.Equal(3 << 20, await target.WriteFromAsync(1024, copy));
        var back = new byte[3 << 20];
        await target.ReadAsync(1024, back);
        Assert.Equal(copy.ToArray(), back);
    }

    [Fact]
    public async Task WriteFromRefusesAStreamThatIsNotWholeSectorsBeforeWritingAnything()
    {
        await using var target = new MemoryBlockDevice(1 << 20);
        using var input = new MemoryStream(new byte[1000]);
        await Assert.ThrowsAsync<BlockMisalignedException>(() => target.WriteFromAsync(0, input).AsTask());
        Assert.Equal(0, target.AllocatedBytes);
        using var tooLong = new MemoryStream(new byte[2 << 20]);
        await Assert.ThrowsAsync<BlockOutOfRangeException>(() => target.WriteFromAsync(0, tooLong).AsTask());
        Assert.Equal(0, target.AllocatedBytes);
    }

    private sealed class SynchronousProgress(Action<long> report) : IProgress<long>
    {
        public void Report(long value) => report(value);
    }
}
