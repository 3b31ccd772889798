using VirtualDevices.Block;
using VirtualDevices.Interop;
using VirtualDevices.Tests.Infrastructure;

namespace VirtualDevices.Tests.Block;

/// <summary>The advisory image lock shared with qemu (ImageLock): writers exclude writers, here and in qemu.</summary>
public sealed class ImageLockTests : IDisposable
{
    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    [Fact]
    public async Task ASecondWriterIsRefusedUntilTheFirstCloses()
    {
        string path = _temp.PatternFile("disk.img", 64 * 1024);
        FileBlockDevice first = FileBlockDevice.Open(path);
        DeviceException refused = Assert.ThrowsAny<DeviceException>(() => FileBlockDevice.Open(path));
        Assert.Equal("DeviceLocked", refused.ErrorId);
        Assert.Equal(DeviceErrorCategory.ResourceBusy, refused.Category);

        // Readers are not refused by a writer (as in qemu), and -NoLock opens anyway.
        await using (FileBlockDevice reader = FileBlockDevice.Open(path, new FileBlockDeviceOptions { ReadOnly = true }))
        await using (FileBlockDevice forced = FileBlockDevice.Open(path, new FileBlockDeviceOptions { NoLock = true }))
        {
            Assert.True(reader.IsConnected);
            Assert.True(forced.IsConnected);
        }

        await first.DisconnectAsync();
        await using FileBlockDevice second = FileBlockDevice.Open(path);
        Assert.True(second.IsConnected);
    }

    [Fact]
    public async Task ALockThatOutlivesItsCloseForAMomentDoesNotRefuseTheNextWriterButOneThatStaysDoes()
    {
        // A child between fork and exec holds every open file of this process: the lock of an image closed here can
        // outlive the close for that moment. A duplicate of the descriptor plays the child (it shares the open file,
        // as the child's copy does). Before the second look, such a reopen was refused at once (CI saw it).
        string path = _temp.PatternFile("disk.img", 64 * 1024);
        int flags = Unix.OpenFlags.O_RDWR | Unix.OpenFlags.O_CLOEXEC;
        SafeFileDescriptor first = Unix.Open(path, flags, 0);
        ImageLock.Acquire(first, path, writable: true);
        var child = new SafeFileDescriptor(Unix.Fcntl(first, Unix.F_DUPFD_CLOEXEC, 0), ownsHandle: true);
        Assert.False(child.IsInvalid);
        first.Dispose();

        Task execs = Task.Run(async () =>
        {
            await Task.Delay(20);
            child.Dispose();
        });
        using (SafeFileDescriptor second = Unix.Open(path, flags, 0))
        {
            ImageLock.Acquire(second, path, writable: true);
            await execs;

            // A holder that stays is refused after the second look, typed.
            using SafeFileDescriptor third = Unix.Open(path, flags, 0);
            var clock = System.Diagnostics.Stopwatch.StartNew();
            DeviceException refused = Assert.Throws<DeviceException>(() => ImageLock.Acquire(third, path, writable: true));
            Assert.Equal("DeviceLocked", refused.ErrorId);
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(5), $"refused within a moment ({clock.Elapsed})");
        }
    }

    [Fact]
    public async Task QemuSeesTheLockAndWeSeeQemus()
    {
        string path = _temp.PatternFile("disk.img", 1024 * 1024);
        await using (FileBlockDevice device = FileBlockDevice.Open(path))
        {
            // qemu-io wants to write: it must find the image locked by a writer that does not share writing.
            ProcessResult qemu = await ExternalProcess.RunAsync("qemu-io", ["-f", "raw", "-c", "write 0 512", path], TimeSpan.FromSeconds(30));
            Assert.NotEqual(0, qemu.ExitCode);
            Assert.Contains("lock", qemu.StandardError + qemu.StandardOutput, StringComparison.OrdinalIgnoreCase);
        }

        // A qemu-nbd serving the image read-write holds the "write" permission byte: opening it for writing is refused.
        string socket = System.IO.Path.Combine(_temp.Path, "q.sock");
        await using ExternalProcess server = ExternalProcess.Start("qemu-nbd", ["-f", "raw", "-k", socket, "-t", path]);
        await server.WaitForFileAsync(socket, TimeSpan.FromSeconds(10));
        // qemu-nbd may create its socket a moment before it takes the image's locks (seen once in five loaded runs):
        // wait for the refusal, a few seconds at most.
        DeviceException? refused = null;
        for (var clock = System.Diagnostics.Stopwatch.StartNew(); refused is null && clock.Elapsed < TimeSpan.FromSeconds(5);)
        {
            try
            {
                await FileBlockDevice.Open(path).DisposeAsync();
                await Task.Delay(50);
            }
            catch (DeviceException e)
            {
                refused = e;
            }
        }

        Assert.Equal("DeviceLocked", refused?.ErrorId);
        await using FileBlockDevice reader = FileBlockDevice.Open(path, new FileBlockDeviceOptions { ReadOnly = true });
        Assert.True(reader.IsConnected);
    }

    [Fact]
    public async Task AFileOfPartialSectorsSaysHowManyBytesAreLeftOut()
    {
        string path = _temp.PatternFile("odd.img", 1000);
        await using FileBlockDevice device = FileBlockDevice.Open(path);
        Assert.Equal(1, device.Info.SectorCount);
        Assert.Equal(488, device.Info.TrailingBytes);
    }
}
