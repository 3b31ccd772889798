using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using VirtualDevices.Devices;
using VirtualDevices.IO.Buffers;
using VirtualDevices.Network;

namespace VirtualDevices.Tests.Network;

public sealed class NetworkConsumerTests
{
    private static NetworkStatistics Stats(INetworkDevice device) => (NetworkStatistics)device.GetStatistics();

    private static unsafe nint AddressOf(ReadOnlySpan<byte> span) => (nint)Unsafe.AsPointer(ref MemoryMarshal.GetReference(span));

    [Fact]
    public async Task TheListenerAndATapShareOnePageAlignedBufferWhichReturnsWhenBothAreDone()
    {
        using var pool = new PageBufferPool(16);
        await using var device = new TestNetworkDevice(pool: pool);
        using FrameReader listener = device.OpenListener();
        using FrameReader tap = device.OpenTap(4);
        byte[] sent = TestNetworkDevice.Frame(100, 7);
        Assert.True(device.Receive(sent));

        Assert.True(listener.TryRead(out FrameLease a));
        Assert.True(tap.TryRead(out FrameLease b));
        Assert.Equal(sent, a.Span.ToArray());
        Assert.Equal(AddressOf(a.Span), AddressOf(b.Span)); // the same bytes, not a copy
        Assert.Equal(0, AddressOf(a.Span) % PageBufferPool.PageSize);
        Assert.Equal(1, pool.InUse);
        a.Dispose();
        Assert.Equal(1, pool.InUse); // the tap still holds it
        Assert.Equal(sent, b.Data.ToArray());
        b.Dispose();
        Assert.Equal(0, pool.InUse);
    }

    [Fact]
    public async Task ReleasingTwiceIsDetectedAndDoesNotTakeAnotherConsumersHold()
    {
        using var pool = new PageBufferPool(16);
        await using var device = new TestNetworkDevice(pool: pool);
        using FrameReader listener = device.OpenListener();
        using FrameReader tap = device.OpenTap();
        device.Receive(TestNetworkDevice.Frame(60, 1));
        Assert.True(listener.TryRead(out FrameLease mine));
        Assert.True(tap.TryRead(out FrameLease theirs));
        FrameLease copy = mine;
        mine.Dispose();
        Assert.False(copy.IsValid);
        Assert.Throws<InvalidOperationException>(() => copy.Dispose());
        Assert.Throws<ObjectDisposedException>(() => copy.Length);
        Assert.True(theirs.IsValid);
        Assert.Equal(60, theirs.Length);
        theirs.Dispose();
        Assert.Equal(0, pool.InUse);

        // The frame object is reused for the next frame; the stale lease must not release it.
        device.Receive(TestNetworkDevice.Frame(70, 2));
        Assert.True(listener.TryRead(out FrameLease next));
        Assert.Throws<InvalidOperationException>(() => mine.Dispose());
        Assert.Equal(70, next.Length);
        next.Dispose();
        default(FrameLease).Dispose();
    }

    [Fact]
    public async Task FramesWaitForTheListenerUpToItsQueueAndTheRestAreCountedAsDrops()
    {
        await using var device = new TestNetworkDevice(queueLength: 4);
        for (int i = 0; i < 10; i++)
        {
            device.Receive(TestNetworkDevice.Frame(60, (byte)i));
        }

        NetworkStatistics stats = Stats(device);
        Assert.Equal((10, 6, 0), (stats.RxPackets, stats.RxDrops, stats.RxNoBuffer));
        using FrameReader listener = device.OpenListener(); // opened late: the first four waited for it
        for (int i = 0; i < 4; i++)
        {
            Assert.True(listener.TryRead(out FrameLease frame));
            Assert.Equal((byte)i, frame.Span[20]);
            frame.Dispose();
        }

        Assert.False(listener.TryRead(out _));
        Assert.Equal(4, listener.Queued);
        Assert.Equal(6, listener.Dropped);
    }

    [Fact]
    public async Task ASlowTapDropsAndCountsWithoutSlowingTheListener()
    {
        await using var device = new TestNetworkDevice(queueLength: 16);
        using FrameReader listener = device.OpenListener();
        using FrameReader tap = device.OpenTap(capacity: 3);
        for (int i = 0; i < 10; i++)
        {
            device.Receive(TestNetworkDevice.Frame(60, (byte)i));
            Assert.True(listener.TryRead(out FrameLease frame)); // the listener keeps up; the tap reads nothing
            frame.Dispose();
        }

        NetworkStatistics stats = Stats(device);
        Assert.Equal((10, 0, 7), (stats.RxPackets, stats.RxDrops, stats.TapDrops));
        Assert.Equal((3, 7, 3), (tap.Queued, tap.Dropped, tap.Count));
    }

    [Fact]
    public async Task ATapSeesOnlyFramesFromWhenItOpensAndClosingReleasesWhatItLeftUnread()
    {
        using var pool = new PageBufferPool(16);
        await using var device = new TestNetworkDevice(pool: pool);
        device.Receive(TestNetworkDevice.Frame(60, 1));
        FrameReader tap = device.OpenTap();
        device.Receive(TestNetworkDevice.Frame(60, 2));
        device.Receive(TestNetworkDevice.Frame(60, 3));
        Assert.Equal(2, tap.Count);
        Assert.True(tap.TryRead(out FrameLease first));
        Assert.Equal(2, first.Span[20]);
        first.Dispose();
        tap.Dispose();
        Assert.Throws<ObjectDisposedException>(() => tap.TryRead(out _));
        Assert.Equal(3, pool.InUse); // only the listener's three frames hold pages now
        Assert.Equal(0, Stats(device).TapDrops); // what a tap chose not to read is not a drop
        device.Receive(TestNetworkDevice.Frame(60, 4));
        Assert.Equal(2, tap.Queued); // closed: nothing more queued to it
    }

    [Fact]
    public async Task AnExhaustedPoolDropsAndCountsUntilPagesComeBack()
    {
        using var pool = new PageBufferPool(maxBuffers: 2);
        await using var device = new TestNetworkDevice(queueLength: 8, pool: pool);
        Assert.True(device.Receive(TestNetworkDevice.Frame(60, 1)));
        Assert.True(device.Receive(TestNetworkDevice.Frame(60, 2)));
        Assert.False(device.Receive(TestNetworkDevice.Frame(60, 3))); // both pages wait in the listener's queue
        NetworkStatistics stats = Stats(device);
        Assert.Equal((2, 1, 1), (stats.RxPackets, stats.RxDrops, stats.RxNoBuffer));
        Assert.Equal(1, pool.Exhaustions);

        using FrameReader listener = device.OpenListener();
        Assert.True(listener.TryRead(out FrameLease frame));
        frame.Dispose();
        Assert.True(device.Receive(TestNetworkDevice.Frame(60, 4)));
    }

    [Theory]
    [InlineData(13)]
    [InlineData(1519)]
    public async Task AMalformedFrameFromTheDriverIsAReceiveErrorAndItsPageComesBack(int length)
    {
        using var pool = new PageBufferPool(4);
        await using var device = new TestNetworkDevice(pool: pool);
        Assert.False(device.DeliverLength(length));
        Assert.Equal((0, 1), (Stats(device).RxPackets, Stats(device).RxErrors));
        Assert.Equal(0, pool.InUse);
    }

    [Fact]
    public async Task JumboFramesTakeBuffersOfThreePages()
    {
        await using var device = new TestNetworkDevice(mtu: 9000);
        Assert.Equal(3, device.Pool.PagesPerBuffer);
        byte[] sent = TestNetworkDevice.Frame(device.MaxFrameSize, 9);
        using FrameReader listener = device.OpenListener();
        Assert.True(device.Receive(sent));
        Assert.True(listener.TryRead(out FrameLease frame));
        Assert.Equal(sent, frame.Span.ToArray());
        frame.Dispose();
        Assert.Throws<ArgumentException>(() => new TestNetworkDevice(mtu: 9000, pool: new PageBufferPool(4)));
    }

    [Fact]
    public async Task AfterDisconnectReadersGetWhatWasQueuedThenTheEnd()
    {
        await using var device = new TestNetworkDevice();
        using FrameReader listener = device.OpenListener();
        using FrameReader tap = device.OpenTap();
        device.Receive(TestNetworkDevice.Frame(60, 1));
        device.Receive(TestNetworkDevice.Frame(60, 2));
        await device.DisconnectAsync();
        Assert.False(device.Receive(TestNetworkDevice.Frame(60, 3)));
        foreach (FrameReader reader in new[] { listener, tap })
        {
            var seen = new List<byte>();
            await foreach (FrameLease frame in reader.ReadAllAsync().WithCancellation(new CancellationTokenSource(TimeSpan.FromSeconds(10)).Token))
            {
                seen.Add(frame.Span[20]);
                frame.Dispose();
            }

            Assert.Equal([1, 2], seen);
        }

        Assert.Throws<DeviceDisconnectedException>(() => device.OpenTap());
        Assert.Throws<DeviceDisconnectedException>(() => device.OpenListener());
    }

    [Fact]
    public async Task ADriverFailureReachesReadersAfterTheFramesBeforeIt()
    {
        await using var device = new TestNetworkDevice();
        using FrameReader listener = device.OpenListener();
        device.Receive(TestNetworkDevice.Frame(60, 1));
        device.Fail(new DeviceUnknownException(device.Name, "link gone"));
        Assert.True(await listener.WaitToReadAsync());
        Assert.True(listener.TryRead(out FrameLease frame));
        frame.Dispose();
        await Assert.ThrowsAsync<DeviceUnknownException>(() => listener.WaitToReadAsync().AsTask());
        Assert.False(device.IsConnected);
    }

    [Fact]
    public async Task DisposingTheDeviceCountsUnreadFramesAsDropsAndFreesTheirPages()
    {
        using var pool = new PageBufferPool(16);
        var device = new TestNetworkDevice(pool: pool);
        FrameReader tap = device.OpenTap();
        device.Receive(TestNetworkDevice.Frame(60, 1));
        device.Receive(TestNetworkDevice.Frame(60, 2));
        Assert.True(tap.TryRead(out FrameLease held)); // a consumer may keep a frame past the device
        await device.DisposeAsync();
        NetworkStatistics stats = Stats(device);
        Assert.Equal((2, 1), (stats.RxDrops, stats.TapDrops));
        Assert.Equal(1, pool.InUse);
        Assert.Equal(1, held.Span[20]);
        held.Dispose();
        Assert.Equal(0, pool.InUse);
        tap.Dispose();
    }

    [Fact]
    public async Task OneListenerAndAtMostThirtyTaps()
    {
        await using var device = new TestNetworkDevice();
        using FrameReader listener = device.OpenListener();
        Assert.Equal(DeviceErrorIds.Network.ListenerActive, Assert.Throws<DeviceException>(() => device.OpenListener()).ErrorId);
        var taps = Enumerable.Range(0, NetworkDevice.MaxTaps).Select(_ => device.OpenTap(1)).ToList();
        var e = Assert.Throws<DeviceException>(() => device.OpenTap());
        Assert.Equal((DeviceErrorIds.Network.TapLimit, DeviceErrorCategory.LimitsExceeded), (e.ErrorId, e.Category));
        device.Receive(TestNetworkDevice.Frame(60, 5));
        Assert.All(taps, t => Assert.Equal(1, t.Count));
        taps[7].Dispose();
        using FrameReader again = device.OpenTap(); // its bit is free again
        device.Receive(TestNetworkDevice.Frame(60, 6));
        Assert.Equal(1, again.Count);
        taps.ForEach(t => t.Dispose());
        listener.Dispose();
        using FrameReader next = device.OpenListener(); // the queue outlives its reader
        Assert.Equal(2, next.Count);
    }

    [Fact]
    public async Task AWaitIsCancelledByItsTokenAndTheReaderWaitsAgainAfterward()
    {
        await using var device = new TestNetworkDevice();
        using FrameReader listener = device.OpenListener();
        using (var cts = new CancellationTokenSource())
        {
            ValueTask<bool> waiting = listener.WaitToReadAsync(cts.Token);
            Assert.False(waiting.IsCompleted);
            Assert.Throws<InvalidOperationException>(() => listener.WaitToReadAsync()); // one reader at a time
            await cts.CancelAsync();
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => waiting.AsTask().WaitAsync(TimeSpan.FromSeconds(10)));
        }

        ValueTask<bool> next = listener.WaitToReadAsync(new CancellationTokenSource(TimeSpan.FromSeconds(10)).Token);
        device.Receive(TestNetworkDevice.Frame(60, 1));
        Assert.True(await next);
        Assert.True(listener.TryRead(out FrameLease frame));
        frame.Dispose();
    }

    [Fact]
    public async Task DisposingAReaderEndsItsPendingWait()
    {
        await using var device = new TestNetworkDevice();
        FrameReader listener = device.OpenListener();
        ValueTask<bool> waiting = listener.WaitToReadAsync();
        listener.Dispose();
        Assert.False(await waiting.AsTask().WaitAsync(TimeSpan.FromSeconds(10)));
    }

    [Fact]
    public async Task SteadyStateReceivingAllocatesNothing()
    {
        await using var device = new TestNetworkDevice(queueLength: 64);
        using FrameReader listener = device.OpenListener();
        using FrameReader tap = device.OpenTap(64);
        byte[] sent = TestNetworkDevice.Frame(1514, 3);
        void Run(int count)
        {
            for (int i = 0; i < count; i++)
            {
                device.Receive(sent);
                listener.TryRead(out FrameLease a);
                tap.TryRead(out FrameLease b);
                a.Dispose();
                b.Dispose();
            }
        }

        Run(1000);
        long before = GC.GetAllocatedBytesForCurrentThread();
        Run(10_000);
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
        Assert.Equal(11_000, Stats(device).RxPackets);
    }

    [Fact]
    public async Task ConcurrentSendersAListenerAndATapAccountForEveryFrame()
    {
        using var pool = new PageBufferPool(64);
        var device = new TestNetworkDevice(queueLength: 16, pool: pool);
        FrameReader listener = device.OpenListener();
        FrameReader tap = device.OpenTap(8);
        long listened = 0, tapped = 0;
        async Task Drain(FrameReader reader, Func<long> add)
        {
            await foreach (FrameLease frame in reader.ReadAllAsync())
            {
                Assert.Equal(frame.Span[15], frame.Span[frame.Length - 1]); // never another frame's bytes
                frame.Dispose();
                add();
            }
        }

        Task readers = Task.WhenAll(Task.Run(() => Drain(listener, () => Interlocked.Increment(ref listened))),
            Task.Run(() => Drain(tap, () => Interlocked.Increment(ref tapped))));
        const int PerSender = 5_000;
        await Task.WhenAll(Enumerable.Range(0, 4).Select(s => Task.Run(() =>
        {
            for (int i = 0; i < PerSender; i++)
            {
                device.Receive(TestNetworkDevice.Frame(60 + (i % 100), (byte)(s * 50 + (i % 50))));
            }
        }))).WaitAsync(TimeSpan.FromSeconds(60));
        await device.DisconnectAsync();
        await readers.WaitAsync(TimeSpan.FromSeconds(30));
        NetworkStatistics stats = Stats(device);
        Assert.Equal(4 * PerSender, stats.RxPackets + stats.RxNoBuffer);
        Assert.Equal(stats.RxPackets, listened + stats.RxDrops - stats.RxNoBuffer);
        Assert.Equal(stats.RxPackets, tapped + stats.TapDrops);
        Assert.Equal(0, pool.InUse);
        listener.Dispose();
        tap.Dispose();
        await device.DisposeAsync();
    }

    [Fact]
    public async Task TheNewCountersTakePartInSinceAndReset()
    {
        using var pool = new PageBufferPool(2);
        await using var device = new TestNetworkDevice(queueLength: 4, pool: pool);
        using FrameReader tap = device.OpenTap(1);
        device.Receive(TestNetworkDevice.Frame(60, 1));
        device.Receive(TestNetworkDevice.Frame(60, 2)); // the tap's one slot is taken
        NetworkStatistics earlier = Stats(device);
        device.Receive(TestNetworkDevice.Frame(60, 3)); // both pages are held
        NetworkStatistics later = Stats(device);
        Assert.Equal((2, 0, 1), (earlier.RxPackets, earlier.RxNoBuffer, earlier.TapDrops));
        Assert.Equal((2, 1, 1, 1), (later.RxPackets, later.RxNoBuffer, later.RxDrops, later.TapDrops));
        var delta = (NetworkStatistics)later.Since(earlier);
        Assert.Equal((0, 1, 1, 0), (delta.RxPackets, delta.RxNoBuffer, delta.RxDrops, delta.TapDrops));
        device.ResetStatistics();
        NetworkStatistics reset = Stats(device);
        Assert.Equal((0, 0, 0), (reset.RxNoBuffer, reset.TapDrops, reset.RxDrops));
    }
}
