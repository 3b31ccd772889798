using System.Diagnostics;
using System.Globalization;
using VirtualDevices.Interop;
using VirtualDevices.Tests.Infrastructure;
using VirtualDevices.Xen;
using VirtualDevices.Xen.EventChannels;
using VirtualDevices.Xen.Grants;

namespace VirtualDevices.Tests.Xen;

/// <summary>
/// The Xen device types on a host without Xen: opening a missing node is a typed error, and everything that does
/// not need the hypervisor (the wait, its cancellation and disposal, the port framing of read and write, mmap, the
/// errors of ioctls a node refuses) is driven on stand-ins: a FIFO for the event channel device, a file for mmap.
/// The real devices are driven in dom0 by tests/VirtualDevices.XenLab.Devices in the real-Xen lab.
/// </summary>
public sealed class XenDeviceNodeTests : IDisposable
{
    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    public static TheoryData<string> Devices => new() { "evtchn", "gntalloc", "gntdev" };

    private static IDisposable OpenDevice(string kind, string path) => kind switch
    {
        "evtchn" => EventChannelDevice.Open(path),
        "gntalloc" => GrantAllocator.Open(path),
        "gntdev" => GrantMapper.Open(path),
        _ => throw new ArgumentOutOfRangeException(nameof(kind)),
    };

    [Theory]
    [MemberData(nameof(Devices))]
    public void OpeningAMissingDeviceIsATypedNotFoundError(string kind)
    {
        // The default node where this host has none (no /dev/xen here), then a path that surely does not exist.
        string path = Directory.Exists("/dev/xen") ? _temp.File(kind) : $"/dev/xen/{kind}";
        var error = Assert.Throws<XenDeviceException>(() => OpenDevice(kind, path).Dispose());
        Assert.Equal(DeviceErrorIds.Xen.NotFound, error.ErrorId);
        Assert.Equal(DeviceErrorCategory.ObjectNotFound, error.Category);
        Assert.Equal(path, error.DevicePath);
        Assert.Equal(path, error.DeviceName);
        Assert.Equal(Unix.Errno.ENOENT, error.Errno);
        Assert.Contains($"xen-{kind}", error.Message, StringComparison.Ordinal);
        Assert.IsAssignableFrom<DeviceException>(error);
    }

    [Theory]
    [InlineData(2, DeviceErrorCategory.ObjectNotFound)]      // ENOENT
    [InlineData(19, DeviceErrorCategory.ObjectNotFound)]     // ENODEV: a node with no driver
    [InlineData(13, DeviceErrorCategory.PermissionDenied)]   // EACCES
    [InlineData(1, DeviceErrorCategory.PermissionDenied)]    // EPERM
    [InlineData(22, DeviceErrorCategory.InvalidArgument)]    // EINVAL: a bad grant reference, a read-only grant mapped writable
    [InlineData(3, DeviceErrorCategory.InvalidArgument)]     // ESRCH: no such domain
    [InlineData(28, DeviceErrorCategory.LimitsExceeded)]     // ENOSPC: gntalloc's page limit
    [InlineData(12, DeviceErrorCategory.LimitsExceeded)]     // ENOMEM
    [InlineData(27, DeviceErrorCategory.LimitsExceeded)]     // EFBIG: the pending ring overflowed
    [InlineData(16, DeviceErrorCategory.ResourceBusy)]       // EBUSY
    [InlineData(107, DeviceErrorCategory.InvalidOperation)]  // ENOTCONN: a port not bound through this device
    [InlineData(5, DeviceErrorCategory.NotSpecified)]        // EIO
    public void AnErrnoGivesTheErrorItsCategoryAndItsText(int errno, DeviceErrorCategory category)
    {
        var error = new XenDeviceException(DeviceErrorIds.Xen.GrantMapFailed, "/dev/xen/gntdev", errno, "Mapping failed");
        Assert.Equal(category, error.Category);
        Assert.Equal(errno, error.Errno);
        Assert.Equal(DeviceErrorIds.Xen.GrantMapFailed, error.ErrorId);
        Assert.StartsWith("Mapping failed: ", error.Message, StringComparison.Ordinal);
        Assert.EndsWith($"(errno {errno})", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void TheDefaultPathsAreTheLinuxNodes()
    {
        Assert.Equal("/dev/xen/evtchn", EventChannelDevice.DefaultPath);
        Assert.Equal("/dev/xen/gntalloc", GrantAllocator.DefaultPath);
        Assert.Equal("/dev/xen/gntdev", GrantMapper.DefaultPath);
    }

    [Theory]
    [MemberData(nameof(Devices))]
    public void OpeningADirectoryIsATypedOpenFailure(string kind)
    {
        var error = Assert.Throws<XenDeviceException>(() => OpenDevice(kind, _temp.Path).Dispose());
        Assert.Equal(DeviceErrorIds.Xen.OpenFailed, error.ErrorId);
        Assert.Equal(Unix.Errno.EISDIR, error.Errno);
    }

    [Fact]
    public async Task IoctlsANodeRefusesAreTypedErrorsWithTheirErrno()
    {
        // A FIFO opens like the device but answers every ioctl with ENOTTY: each operation reports its own id.
        string fifo = await MakeFifoAsync("evtchn");
        using var device = EventChannelDevice.Open(fifo);
        AssertFails(DeviceErrorIds.Xen.EventChannelBindFailed, () => device.BindUnboundPort(0));
        AssertFails(DeviceErrorIds.Xen.EventChannelBindFailed, () => device.BindInterdomain(0, 5));
        AssertFails(DeviceErrorIds.Xen.EventChannelNotifyFailed, () => device.Notify(5));
        AssertFails(DeviceErrorIds.Xen.EventChannelUnbindFailed, () => device.Unbind(5));
        AssertFails(DeviceErrorIds.Xen.EventChannelReadFailed, device.Reset);

        string file = _temp.PatternFile("image", 8192);
        using var allocator = GrantAllocator.Open(file);
        AssertFails(DeviceErrorIds.Xen.GrantShareFailed, () => allocator.Share(0, 1, writable: true));
        using var mapper = GrantMapper.Open(file);
        AssertFails(DeviceErrorIds.Xen.GrantMapFailed, () => mapper.Map(0, [8, 9], writable: true));
        Assert.Throws<ArgumentOutOfRangeException>(() => mapper.Map(0, [], writable: true));
        AssertFails(DeviceErrorIds.Xen.GrantCopyFailed, () => mapper.Copy(0, 8, 100, new byte[16], toGrant: false));
        AssertFails(DeviceErrorIds.Xen.GrantCopyFailed, () => mapper.Copy(0, 8, 0, new byte[16], toGrant: true));
        Assert.Throws<ArgumentOutOfRangeException>(() => mapper.Copy(0, 8, XenDeviceNode.PageSize - 15, new byte[16], toGrant: false));
        Assert.Throws<ArgumentOutOfRangeException>(() => mapper.Copy(0, 8, -1, new byte[16], toGrant: false));
        Assert.Throws<ArgumentOutOfRangeException>(() => allocator.Share(0, 0, writable: true));

        static void AssertFails(string id, Action action)
        {
            var error = Assert.Throws<XenDeviceException>(action);
            Assert.Equal(id, error.ErrorId);
            Assert.Equal(Unix.Errno.ENOTTY, error.Errno);
            Assert.Contains("errno 25", error.Message, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void XenGrantTableCopiesThroughGntdevsGrantCopy()
    {
        // A plain file as gntdev: the copy reaches the ioctl (ENOTTY), where it used to be refused as unimplemented.
        string file = _temp.PatternFile("gntdev", 8192);
        using var table = new XenGrantTable(file, file);
        foreach (Action copy in new Action[] { () => table.CopyFromGrant(0, 8, 0, new byte[4]), () => table.CopyToGrant(0, 8, 4000, new byte[96]) })
        {
            var error = Assert.Throws<XenDeviceException>(copy);
            Assert.Equal(DeviceErrorIds.Xen.GrantCopyFailed, error.ErrorId);
            Assert.Equal(Unix.Errno.ENOTTY, error.Errno);
        }

        Assert.Throws<ArgumentOutOfRangeException>(() => table.CopyToGrant(0, 8, 4000, new byte[97]));
        table.CopyFromGrant(0, 8, 4096, Span<byte>.Empty);
    }

    [Fact]
    public async Task PendingPortsAreReadAsNativeIntegersAndUnmaskWritesThemBack()
    {
        // The driver queues fired ports as 32-bit integers and takes unmasked ones the same way; a FIFO carries
        // both directions, so what Unmask writes is what the next read returns.
        string fifo = await MakeFifoAsync("evtchn");
        using var device = EventChannelDevice.Open(fifo);
        uint[] ports = new uint[8];
        Assert.Equal(0, device.TryReadPending(ports));

        device.Unmask([7u, 4096u, 0xFFFFu]);
        Assert.Equal(3, device.TryReadPending(ports));
        Assert.Equal([7u, 4096u, 0xFFFFu], ports[..3]);

        // More than the driver's page of ports in one call: written in chunks of 1024, read back whole.
        uint[] many = Enumerable.Range(1, 3000).Select(i => (uint)i).ToArray();
        var reader = Task.Run(() =>
        {
            var received = new List<uint>();
            uint[] buffer = new uint[512];
            while (received.Count < many.Length)
            {
                int read = device.WaitPending(buffer, 10_000);
                Assert.True(read > 0, "the ports written back never arrived");
                received.AddRange(buffer.Take(read));
            }

            return received;
        });
        device.Unmask(many);
        Assert.Equal(many, await reader.WaitAsync(TimeSpan.FromSeconds(20)));
    }

    [Fact]
    public async Task AWaitReturnsAPortAsSoonAsItIsPendingAndZeroAtItsTimeout()
    {
        string fifo = await MakeFifoAsync("evtchn");
        using var device = EventChannelDevice.Open(fifo);
        uint[] ports = new uint[4];

        var watch = Stopwatch.StartNew();
        Assert.Equal(0, device.WaitPending(ports, 200));
        Assert.InRange(watch.ElapsedMilliseconds, 150, 5_000);

        var waiter = Task.Run(() => device.WaitPending(ports, 10_000));
        await Task.Delay(100);
        Assert.False(waiter.IsCompleted);
        WritePort(fifo, 42);
        Assert.Equal(1, await waiter.WaitAsync(TimeSpan.FromSeconds(5)));
        Assert.Equal(42u, ports[0]);
    }

    [Fact]
    public async Task AWaitEndsAtCancellationAndTheNextWaitStillBlocks()
    {
        string fifo = await MakeFifoAsync("evtchn");
        using var device = EventChannelDevice.Open(fifo);
        uint[] ports = new uint[4];
        using var cancellation = new CancellationTokenSource();
        var waiter = Task.Run(() => device.WaitPending(ports, Timeout.Infinite, cancellation.Token));
        await Task.Delay(100);
        Assert.False(waiter.IsCompleted);
        cancellation.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => waiter.WaitAsync(TimeSpan.FromSeconds(5)));

        // The wake-up was consumed: a later wait blocks until its timeout rather than returning or spinning.
        // The CPU time of this thread only (the wait runs on it): the process's would count the tests running beside.
        var watch = Stopwatch.StartNew();
        long ticksBefore = ThreadCpuTicks();
        Assert.Equal(0, device.WaitPending(ports, 300));
        long ticks = ThreadCpuTicks() - ticksBefore;
        Assert.InRange(watch.ElapsedMilliseconds, 250, 5_000);
        Assert.True(ticks < 20, $"the wait spun: {ticks} clock ticks of CPU in a 300 ms wait");

        // An already-cancelled token ends a wait at once.
        Assert.Throws<OperationCanceledException>(() => device.WaitPending(ports, Timeout.Infinite, cancellation.Token));
    }

    [Fact]
    public async Task DisposingTheDeviceEndsAWaitAndLaterCallsAreDisposedErrors()
    {
        string fifo = await MakeFifoAsync("evtchn");
        var device = EventChannelDevice.Open(fifo);
        uint[] ports = new uint[4];
        var waiter = Task.Run(() => device.WaitPending(ports, Timeout.Infinite));
        await Task.Delay(100);
        Assert.False(waiter.IsCompleted);
        device.Dispose();
        await Assert.ThrowsAsync<ObjectDisposedException>(() => waiter.WaitAsync(TimeSpan.FromSeconds(5)));
        Assert.Throws<ObjectDisposedException>(() => device.WaitPending(ports, 0));
        Assert.Throws<ObjectDisposedException>(() => device.Notify(1));
        device.Dispose();
    }

    [Fact]
    public async Task OneThreadWaitsAtATime()
    {
        string fifo = await MakeFifoAsync("evtchn");
        using var device = EventChannelDevice.Open(fifo);
        using var cancellation = new CancellationTokenSource();
        var waiter = Task.Run(() => device.WaitPending(new uint[1], Timeout.Infinite, cancellation.Token));
        await Task.Delay(100);
        Assert.Throws<InvalidOperationException>(() => device.WaitPending(new uint[1], 0));
        cancellation.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => waiter.WaitAsync(TimeSpan.FromSeconds(5)));
        Assert.Equal(0, device.WaitPending(new uint[1], 0));
    }

    [Fact]
    public void MappedPagesAreSharedWithTheFileAndUnmapOnce()
    {
        int page = Environment.SystemPageSize;
        string path = _temp.PatternFile("pages", 3 * page);
        using SafeFileDescriptor fd = Unix.Open(path, Unix.OpenFlags.O_RDWR | Unix.OpenFlags.O_CLOEXEC, 0);
        Assert.False(fd.IsInvalid);

        // The second and third pages, as a grant device's offset would name them.
        MappedPages? pages = MappedPages.TryMap(fd, (ulong)page, 2 * page, writable: true, out int errno);
        Assert.NotNull(pages);
        Assert.Equal(0, errno);
        Assert.Equal(2 * page, pages.Length);
        byte[] original = File.ReadAllBytes(path);
        Assert.Equal(original.AsSpan(page, 2 * page).ToArray(), pages.Memory.ToArray());

        pages.Memory.Span[5] = (byte)(original[page + 5] ^ 0xFF);
        using (var handle = pages.Memory.Slice(page).Pin())
        {
            unsafe
            {
                *(byte*)handle.Pointer = 0x5A;
            }
        }

        pages.Unmap();
        Assert.True(pages.IsDisposed);
        Assert.Throws<ObjectDisposedException>(() => pages.Memory.Span[0]);
        pages.Unmap();
        byte[] after = File.ReadAllBytes(path);
        Assert.Equal((byte)(original[page + 5] ^ 0xFF), after[page + 5]);
        Assert.Equal(0x5A, after[2 * page]);

        // An offset that is not page-aligned is refused by the kernel, with its errno.
        Assert.Null(MappedPages.TryMap(fd, 1, page, writable: false, out errno));
        Assert.Equal(Unix.Errno.EINVAL, errno);
    }

    private async Task<string> MakeFifoAsync(string name)
    {
        string path = _temp.File(name);
        (await ExternalProcess.RunAsync("mkfifo", [path])).EnsureSuccess("mkfifo");
        return path;
    }

    private static void WritePort(string fifo, uint port)
    {
        using var stream = new FileStream(fifo, FileMode.Open, FileAccess.Write);
        stream.Write(BitConverter.GetBytes(port));
    }

    /// <summary>
    /// The calling thread's user + system CPU time in clock ticks (10 ms each), from <c>/proc/thread-self/stat</c>
    /// (fields 14 and 15, counted after the command name, which is in parentheses and may hold spaces).
    /// </summary>
    private static long ThreadCpuTicks()
    {
        string stat = File.ReadAllText("/proc/thread-self/stat");
        string[] fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        return long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture);
    }
}
