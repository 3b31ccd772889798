using VirtualDevices.IO.Buffers;
using VirtualDevices.Xen.Rings;

namespace VirtualDevices.Tests.Xen.Rings;

/// <summary>
/// The notify decisions of ring.h, step by step on one ring: a push asks for a notification only when the batch
/// crosses the peer's event index, the final check before sleep moves that index to "the next one", and the peeks used
/// to spin (<c>RING_HAS_UNCONSUMED_*</c>) ask for nothing.
/// </summary>
public sealed class RingEventSuppressionTests : IDisposable
{
    private readonly PageBufferPool _pool = new(maxBuffers: 1);

    public void Dispose() => _pool.Dispose();

    [Fact]
    public unsafe void APushNotifiesOnlyWhenTheBatchCrossesThePeersEventIndex()
    {
        using PageLease pages = _pool.Rent();
        var front = new FrontRing<NetifTxRequest, NetifTxResponse>(pages.Address, pages.Length);
        var back = new BackRing<NetifTxRequest, NetifTxResponse>(pages.Address, pages.Length);
        uint* header = (uint*)pages.Address;
        Assert.Equal(1u, header[1]); // req_event = 1 after SHARED_RING_INIT: the first request notifies
        Assert.Equal(1u, header[3]); // rsp_event = 1

        Assert.False(front.PushRequests()); // nothing produced, nothing to say
        Produce(front, 1);
        Assert.True(front.PushRequests());
        Produce(front, 3);
        Assert.False(front.PushRequests()); // the back has not asked again: it is awake, working

        // The back consumes all four; with nothing left its final check asks for the next request (req_event = 5).
        Assert.True(back.HasUnconsumedRequests);
        Assert.Equal(1u, header[1]); // the peek asked for nothing
        for (int i = 0; i < 4; i++)
        {
            Assert.True(back.TryConsumeRequest(out _));
        }

        Assert.False(back.FinalCheckForRequests());
        Assert.Equal(5u, header[1]);
        Produce(front, 2);
        Assert.True(front.PushRequests()); // 4 -> 6 crosses 5
        Assert.True(back.FinalCheckForRequests()); // and the back, about to sleep, sees them instead

        // Responses, the mirror image: the front asked for the first (rsp_event = 1).
        for (int i = 0; i < 2; i++)
        {
            Assert.True(back.TryConsumeRequest(out _));
        }

        for (int i = 0; i < 6; i++)
        {
            back.ProduceResponse(new NetifTxResponse { Id = (ushort)i });
        }

        Assert.True(back.PushResponses());
        Assert.Throws<InvalidOperationException>(() => back.ProduceResponse(default)); // every request answered
        for (int i = 0; i < 6; i++)
        {
            Assert.True(front.TryConsumeResponse(out NetifTxResponse response));
            Assert.Equal(i, response.Id);
        }

        Assert.False(front.HasUnconsumedResponses);
        Assert.False(front.FinalCheckForResponses());
        Assert.Equal(7u, header[3]);
    }

    private static void Produce(FrontRing<NetifTxRequest, NetifTxResponse> front, int count)
    {
        for (int i = 0; i < count; i++)
        {
            Assert.True(front.TryProduceRequest(new NetifTxRequest { Id = (ushort)i }));
        }
    }
}
