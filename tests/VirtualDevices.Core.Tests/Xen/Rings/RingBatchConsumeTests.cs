using VirtualDevices.IO.Buffers;
using VirtualDevices.Xen.Rings;

namespace VirtualDevices.Tests.Xen.Rings;

/// <summary>
/// The batch counts (<c>RING_HAS_UNCONSUMED_*</c> as ring.h defines them: a count): one read of the other end's
/// producer says how many entries wait, the consumes that follow take exactly those without reading it again, a
/// producer index that misbehaves is caught by the count as by a consume, and the count asks for no notification.
/// </summary>
public sealed unsafe class RingBatchConsumeTests : IDisposable
{
    private readonly PageBufferPool _pool = new(maxBuffers: 1);

    public void Dispose() => _pool.Dispose();

    [Fact]
    public void TheCountReadsTheProducerOnceAndTheConsumesTakeThoseEntriesWithoutReadingItAgain()
    {
        using PageLease pages = _pool.Rent();
        var front = new FrontRing<BlkifRequest, BlkifResponse>(pages.Address, pages.Length);
        var back = new BackRing<BlkifRequest, BlkifResponse>(pages.Address, pages.Length);
        uint* header = (uint*)pages.Address;

        Assert.Equal(0, back.UnconsumedRequests);
        for (ulong i = 0; i < 5; i++)
        {
            Assert.True(front.TryProduceRequest(new BlkifRequest { Id = i }));
        }

        front.PushRequests();
        Assert.Equal(5, back.UnconsumedRequests);
        Assert.Equal(1u, header[1]); // req_event untouched: the count asks for nothing

        // The front pushes more after the count: the batch is still the five counted; the sixth waits for a read.
        Assert.True(front.TryProduceRequest(new BlkifRequest { Id = 5 }));
        front.PushRequests();
        for (ulong i = 0; i < 5; i++)
        {
            Assert.True(back.TryConsumeRequest(out BlkifRequest request));
            Assert.Equal(i, request.Id);
            back.ProduceResponse(new BlkifResponse { Id = request.Id });
        }

        Assert.Equal(1, back.UnconsumedRequests);
        Assert.True(back.TryConsumeRequest(out BlkifRequest sixth));
        Assert.Equal(5ul, sixth.Id);
        back.ProduceResponse(new BlkifResponse { Id = sixth.Id });
        Assert.Equal(0, back.UnconsumedRequests);

        back.PushResponses();
        Assert.Equal(6, front.UnconsumedResponses);
        Assert.Equal(1u, header[3]); // rsp_event untouched
        for (ulong i = 0; i < 6; i++)
        {
            Assert.True(front.TryConsumeResponse(out BlkifResponse response));
            Assert.Equal(i, response.Id);
        }

        Assert.Equal(0, front.UnconsumedResponses);
        Assert.False(front.TryConsumeResponse(out _));
    }

    [Fact]
    public void AProducerIndexThatMisbehavesBreaksTheRingThroughTheCount()
    {
        using PageLease pages = _pool.Rent();
        var front = new FrontRing<BlkifRequest, BlkifResponse>(pages.Address, pages.Length);
        var back = new BackRing<BlkifRequest, BlkifResponse>(pages.Address, pages.Length);
        uint* header = (uint*)pages.Address;
        Assert.True(front.TryProduceRequest(default));
        front.PushRequests();

        header[2] = 2; // rsp_prod past the one request pushed
        Assert.Contains("rsp_prod ran past", Assert.Throws<XenRingException>(() => front.UnconsumedResponses).Message, StringComparison.Ordinal);
        Assert.True(front.IsBroken);

        header[0] = 1 + (uint)back.Size + 1; // req_prod more than a ring ahead of the responses
        Assert.Contains("req_prod ran past", Assert.Throws<XenRingException>(() => back.UnconsumedRequests).Message, StringComparison.Ordinal);
        Assert.True(back.IsBroken);
    }
}
