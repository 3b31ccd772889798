using VirtualDevices.IO.Buffers;
using VirtualDevices.Xen.Rings;

namespace VirtualDevices.Tests.Xen.Rings;

/// <summary>
/// The front that tracks its requests by id with the core's request table: blkif's 64-bit ids over 32 slots, netif's
/// 16-bit ids over 256, and a backend that answers an id it was never sent, or answers one twice, breaks the ring and
/// fails every request in flight.
/// </summary>
public sealed class TrackedFrontRingTests : IDisposable
{
    private readonly PageBufferPool _pool = new(maxBuffers: 1);

    public void Dispose() => _pool.Dispose();

    [Fact]
    public async Task ThousandsOfBlkifRequestsMatchTheirResponsesByIdOverThirtyTwoSlots()
    {
        using PageLease pages = _pool.Rent();
        var front = new TrackedFrontRing<BlkifRequest, BlkifResponse>(
            new FrontRing<BlkifRequest, BlkifResponse>(pages.Address, pages.Length, "blkif front"), idBits: 64,
            static (ref BlkifRequest request, ulong id) => request.Id = id, static (in BlkifResponse response) => response.Id, () => { });
        var back = new BackRing<BlkifRequest, BlkifResponse>(pages.Address, pages.Length, "blkif back");
        Assert.Equal(32, front.Ring.Size);

        // The backend answers out of order within each batch (reversed), the way a disk completes: ids, not positions, match.
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var backend = Task.Run(() =>
        {
            var batch = new List<BlkifRequest>();
            while (!stop.IsCancellationRequested)
            {
                while (back.TryConsumeRequest(out BlkifRequest request))
                {
                    batch.Add(request);
                }

                for (int i = batch.Count - 1; i >= 0; i--)
                {
                    back.ProduceResponse(new BlkifResponse { Id = batch[i].Id, Operation = batch[i].Operation, Status = (short)(batch[i].SectorNumber % 7) });
                }

                batch.Clear();
                back.PushResponses();
                lock (back)
                {
                    front.ProcessResponses();
                }

                Thread.Yield();
            }
        });

        var sends = new Task[8];
        for (int worker = 0; worker < sends.Length; worker++)
        {
            int first = worker * 2000;
            sends[worker] = Task.Run(async () =>
            {
                for (int i = first; i < first + 2000; i++)
                {
                    BlkifResponse response = await front.SendAsync(new BlkifRequest { Operation = BlkifRequest.OperationRead, SectorNumber = (ulong)i });
                    Assert.Equal((short)(i % 7), response.Status);
                }
            });
        }

        await Task.WhenAll(sends).WaitAsync(TimeSpan.FromSeconds(60));
        stop.Cancel();
        await backend;
        Assert.Equal(0, front.InFlight);
        Assert.False(front.Ring.IsBroken);
    }

    [Fact]
    public async Task NetifSixteenBitIdsOverTwoHundredFiftySixEntries()
    {
        using PageLease pages = _pool.Rent();
        var front = new TrackedFrontRing<NetifTxRequest, NetifTxResponse>(
            new FrontRing<NetifTxRequest, NetifTxResponse>(pages.Address, pages.Length, "tx front"), idBits: 16,
            static (ref NetifTxRequest request, ulong id) => request.Id = checked((ushort)id), static (in NetifTxResponse response) => response.Id, () => { });
        var back = new BackRing<NetifTxRequest, NetifTxResponse>(pages.Address, pages.Length, "tx back");
        Assert.Equal(256, front.Ring.Size);
        var pending = new List<ValueTask<NetifTxResponse>>();
        for (int i = 0; i < 256; i++)
        {
            pending.Add(front.SendAsync(new NetifTxRequest { Size = (ushort)i }));
        }

        var seen = new HashSet<ushort>();
        while (back.TryConsumeRequest(out NetifTxRequest request))
        {
            Assert.True(seen.Add(request.Id), $"id {request.Id} issued twice while in flight");
            back.ProduceResponse(new NetifTxResponse { Id = request.Id, Status = (short)request.Size });
        }

        back.PushResponses();
        Assert.Equal(256, front.ProcessResponses());
        for (int i = 0; i < 256; i++)
        {
            Assert.Equal(i, (await pending[i]).Status);
        }
    }

    [Fact]
    public async Task AResponseWithAnIdNeverIssuedBreaksTheRingAndFailsEveryRequestInFlight()
    {
        using PageLease pages = _pool.Rent();
        (TrackedFrontRing<BlkifRequest, BlkifResponse> front, BackRing<BlkifRequest, BlkifResponse> back) = Blkif(pages);
        ValueTask<BlkifResponse> first = front.SendAsync(new BlkifRequest { SectorNumber = 1 });
        ValueTask<BlkifResponse> second = front.SendAsync(new BlkifRequest { SectorNumber = 2 });
        Assert.True(back.TryConsumeRequest(out BlkifRequest request));
        back.ProduceResponse(new BlkifResponse { Id = request.Id ^ 0x5a5a_0000_0000 }); // a generation it never had
        back.PushResponses();

        XenRingException broken = Assert.Throws<XenRingException>(() => front.ProcessResponses());
        Assert.Equal(DeviceErrorIds.Xen.RingBroken, broken.ErrorId);
        Assert.Contains("matches no request in flight", broken.Message, StringComparison.Ordinal);
        Assert.Same(broken, await Assert.ThrowsAsync<XenRingException>(async () => await first));
        Assert.Same(broken, await Assert.ThrowsAsync<XenRingException>(async () => await second));
        Assert.Same(broken, await Assert.ThrowsAsync<XenRingException>(async () => await front.SendAsync(default)));
        Assert.Equal(0, front.InFlight);
    }

    [Fact]
    public async Task ASecondResponseToTheSameRequestBreaksTheRing()
    {
        using PageLease pages = _pool.Rent();
        (TrackedFrontRing<BlkifRequest, BlkifResponse> front, BackRing<BlkifRequest, BlkifResponse> back) = Blkif(pages);
        ValueTask<BlkifResponse> first = front.SendAsync(new BlkifRequest { SectorNumber = 1 });
        ValueTask<BlkifResponse> second = front.SendAsync(new BlkifRequest { SectorNumber = 2 });
        Assert.True(back.TryConsumeRequest(out BlkifRequest request));
        Assert.True(back.TryConsumeRequest(out _));
        back.ProduceResponse(new BlkifResponse { Id = request.Id });
        back.ProduceResponse(new BlkifResponse { Id = request.Id }); // the first one's id again, in the second's place
        back.PushResponses();

        XenRingException broken = Assert.Throws<XenRingException>(() => front.ProcessResponses());
        Assert.Equal(request.Id, (await first).Id); // the first answer stands
        Assert.Same(broken, await Assert.ThrowsAsync<XenRingException>(async () => await second));
    }

    private static (TrackedFrontRing<BlkifRequest, BlkifResponse> Front, BackRing<BlkifRequest, BlkifResponse> Back) Blkif(PageLease pages) =>
        (new TrackedFrontRing<BlkifRequest, BlkifResponse>(
            new FrontRing<BlkifRequest, BlkifResponse>(pages.Address, pages.Length, "blkif front"), idBits: 64,
            static (ref BlkifRequest request, ulong id) => request.Id = id, static (in BlkifResponse response) => response.Id, () => { }),
         new BackRing<BlkifRequest, BlkifResponse>(pages.Address, pages.Length, "blkif back"));
}
