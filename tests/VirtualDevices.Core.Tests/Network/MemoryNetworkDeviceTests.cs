using VirtualDevices.Devices;
using VirtualDevices.Network;

namespace VirtualDevices.Tests.Network;

public sealed class MemoryNetworkDeviceTests
{
    private static byte[] Frame(MacAddress destination, MacAddress source, int length, byte fill)
    {
        var frame = new byte[length];
        frame.AsSpan().Fill(fill);
        destination.Write(frame);
        source.Write(frame.AsSpan(6));
        frame[12] = 0x88;
        frame[13] = 0xB5; // local experimental EtherType
        return frame;
    }

    [Fact]
    public async Task FramesWrittenAtOneEndAreReceivedAtTheOtherInOrder()
    {
        var (a, b) = MemoryNetworkDevice.CreatePair();
        await using (a)
        await using (b)
        {
            var received = new List<byte[]>();
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            Task listening = b.ListenAsync((frame, _) =>
            {
                received.Add(frame.ToArray());
                if (received.Count == 3)
                {
                    cts.Cancel();
                }

                return default;
            }, cts.Token).AsTask();
            byte[][] sent = [Frame(b.MacAddress, a.MacAddress, 60, 1), Frame(b.MacAddress, a.MacAddress, 1514, 2), Frame(b.MacAddress, a.MacAddress, 100, 3)];
            foreach (byte[] frame in sent)
            {
                await a.WriteAsync(frame);
            }

            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => listening);
            Assert.Equal(sent, received);
            var tx = (NetworkStatistics)a.GetStatistics();
            var rx = (NetworkStatistics)b.GetStatistics();
            Assert.Equal((3, 60 + 1514 + 100), (tx.TxPackets, tx.TxBytes));
            Assert.Equal((3, 60 + 1514 + 100), (rx.RxPackets, rx.RxBytes));
        }
    }

    [Fact]
    public async Task AGatheredFrameArrivesAsOneFrame()
    {
        var (a, b) = MemoryNetworkDevice.CreatePair();
        byte[] frame = Frame(b.MacAddress, a.MacAddress, 200, 7);
        await a.WriteAsync(new ReadOnlyMemory<byte>[] { frame.AsMemory(0, 14), frame.AsMemory(14, 100), frame.AsMemory(114) });
        byte[]? received = null;
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => b.ListenAsync((f, _) =>
        {
            received = f.ToArray();
            cts.Cancel();
            return default;
        }, cts.Token).AsTask());
        Assert.Equal(frame, received);
        await a.DisposeAsync();
        await b.DisposeAsync();
    }

    [Theory]
    [InlineData(0)]
    [InlineData(13)]
    [InlineData(1519)]
    public async Task FramesOutsideTheSizeLimitsAreRefused(int length)
    {
        var (a, b) = MemoryNetworkDevice.CreatePair(mtu: 1500);
        var e = await Assert.ThrowsAsync<FrameSizeException>(() => a.WriteAsync(new byte[length]).AsTask());
        Assert.Equal(length, e.Length);
        Assert.Equal(1, ((NetworkStatistics)a.GetStatistics()).TxErrors);
        Assert.Equal(0, ((NetworkStatistics)b.GetStatistics()).RxPackets);
        await a.DisposeAsync();
        await b.DisposeAsync();
    }

    [Fact]
    public async Task ListeningEndsNormallyWhenTheDeviceIsDisconnected()
    {
        var (a, b) = MemoryNetworkDevice.CreatePair();
        Task listening = b.ListenAsync((_, _) => default).AsTask();
        await Task.Delay(50);
        await b.DisconnectAsync();
        await listening.WaitAsync(TimeSpan.FromSeconds(10));
        await Assert.ThrowsAsync<DeviceDisconnectedException>(() => b.WriteAsync(new byte[60]).AsTask());
        await Assert.ThrowsAsync<DeviceDisconnectedException>(() => b.ListenAsync((_, _) => default).AsTask());
        await a.WriteAsync(Frame(b.MacAddress, a.MacAddress, 60, 0)); // the peer is unplugged: dropped, not an error
        Assert.Equal(1, ((NetworkStatistics)a.GetStatistics()).TxDrops);
        await a.DisposeAsync();
    }

    [Fact]
    public async Task OnlyOneListenerAtATime()
    {
        var (a, b) = MemoryNetworkDevice.CreatePair();
        using var cts = new CancellationTokenSource();
        Task first = b.ListenAsync((_, _) => default, cts.Token).AsTask();
        await Task.Delay(50);
        var e = await Assert.ThrowsAsync<DeviceException>(() => b.ListenAsync((_, _) => default).AsTask());
        Assert.Equal("DeviceListenerActive", e.ErrorId);
        cts.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => first);
        await a.DisposeAsync();
        await b.DisposeAsync();
    }

    [Fact]
    public async Task AFullQueueDropsAndCountsAtTheReceiver()
    {
        var (a, b) = MemoryNetworkDevice.CreatePair(queueLength: 4);
        for (int i = 0; i < 10; i++)
        {
            await a.WriteAsync(Frame(b.MacAddress, a.MacAddress, 60, (byte)i));
        }

        Assert.Equal(6, ((NetworkStatistics)b.GetStatistics()).RxDrops);
        Assert.Equal(10, ((NetworkStatistics)a.GetStatistics()).TxPackets);
        await a.DisposeAsync();
        await b.DisposeAsync();
    }

    [Fact]
    public async Task ReceiveFramesAsyncDecodesFrames()
    {
        var (a, b) = MemoryNetworkDevice.CreatePair();
        byte[] arp = Convert.FromHexString("ffffffffffff" + "020000000001" + "0806" + "0001080006040001" + "020000000001" + "0a000001" + "000000000000" + "0a000002");
        await a.WriteAsync(arp);
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        await foreach (EthernetFrame frame in b.ReceiveFramesAsync(cancellationToken: cts.Token))
        {
            Assert.Equal(b.Name, frame.Device);
            Assert.Equal(MacAddress.Broadcast, frame.Destination);
            Assert.Equal(MacAddress.Parse("02:00:00:00:00:01"), frame.Source);
            Assert.Equal(0x0806, frame.EtherType);
            Assert.Equal("ARP, Request who-has 10.0.0.2 tell 10.0.0.1", frame.Summary);
            break;
        }

        await a.DisposeAsync();
        await b.DisposeAsync();
    }

    [Fact]
    public async Task ReceiveFramesAsyncCountsEveryFrameItDoesNotDeliver()
    {
        // Was: frames the stream's consumer did not collect were dropped without being counted anywhere.
        const int Sent = 3000;
        var (a, b) = MemoryNetworkDevice.CreatePair(queueLength: 4);
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await using IAsyncEnumerator<EthernetFrame> frames = b.ReceiveFramesAsync(cancellationToken: cts.Token).GetAsyncEnumerator(cts.Token);
        ValueTask<bool> first = frames.MoveNextAsync();
        await a.WriteAsync(Frame(b.MacAddress, a.MacAddress, 60, 0));
        Assert.True(await first);
        for (int i = 1; i < Sent; i++)
        {
            await a.WriteAsync(Frame(b.MacAddress, a.MacAddress, 60, (byte)i)); // nobody collects meanwhile
            // Paced: each frame is taken off the link (received or dropped) before the next is sent.
            while (((NetworkStatistics)b.GetStatistics()) is var s && s.RxPackets + s.RxDrops < i + 1)
            {
                cts.Token.ThrowIfCancellationRequested();
                await Task.Yield();
            }
        }

        await b.DisconnectAsync();
        int delivered = 1;
        while (await frames.MoveNextAsync())
        {
            delivered++;
        }

        var stats = (NetworkStatistics)b.GetStatistics();
        Assert.Equal(Sent, delivered + stats.RxDrops);
        Assert.True(stats.RxDrops > 0);
        await a.DisposeAsync();
        await b.DisposeAsync();
    }

    [Fact]
    public async Task AWrittenFrameLandsOnceInAPageOfThePeerSharedByItsListenerAndTap()
    {
        var (a, b) = MemoryNetworkDevice.CreatePair();
        using FrameReader listener = b.OpenListener();
        using FrameReader tap = b.OpenTap();
        byte[] frame = Frame(b.MacAddress, a.MacAddress, 300, 4);
        await a.WriteAsync(new ReadOnlyMemory<byte>[] { frame.AsMemory(0, 14), frame.AsMemory(14) });
        Assert.True(listener.TryRead(out FrameLease heard));
        Assert.True(tap.TryRead(out FrameLease tapped));
        Assert.Equal(frame, heard.Span.ToArray());
        Assert.True(heard.Span == tapped.Span); // one copy, shared
        unsafe
        {
            fixed (byte* p = heard.Span)
            {
                Assert.Equal(0, (nint)p % 4096);
            }
        }

        heard.Dispose();
        tapped.Dispose();
        await a.DisposeAsync();
        await b.DisposeAsync();
    }
}
