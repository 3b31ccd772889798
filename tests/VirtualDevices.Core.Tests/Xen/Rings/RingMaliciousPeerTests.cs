using System.Runtime.InteropServices;
using System.Runtime.CompilerServices;
using VirtualDevices.IO.Buffers;
using VirtualDevices.Xen.Rings;

namespace VirtualDevices.Tests.Xen.Rings;

/// <summary>
/// A hostile peer, played by the test writing the shared page directly: producer indices that go backwards or run
/// past the ring, responses to requests never pushed, garbage entries, indices flipped while we read. Each time the
/// ring ends broken with <see cref="DeviceErrorIds.Xen.RingBroken"/> and the same error for every later call; nothing
/// reads outside the ring and nothing waits.
/// </summary>
public sealed unsafe class RingMaliciousPeerTests : IDisposable
{
    private readonly PageBufferPool _pool = new(maxBuffers: 2, pagesPerBuffer: 4);

    public void Dispose() => _pool.Dispose();

    [Fact]
    public void ARequestProducerMoreThanARingAheadBreaksTheBack()
    {
        using PageLease pages = _pool.Rent();
        var back = Back(pages, initialize: true);
        Header(pages).RequestProducer = (uint)back.Size + 1;

        XenRingException broken = Assert.Throws<XenRingException>(() => back.TryConsumeRequest(out _));
        Assert.Equal(DeviceErrorIds.Xen.RingBroken, broken.ErrorId);
        Assert.Equal(DeviceErrorCategory.ProtocolError, broken.Category);
        Assert.Contains("req_prod ran past the ring", broken.Message, StringComparison.Ordinal);
        AssertBrokenForGood(back, broken);
    }

    [Fact]
    public void ARequestProducerAheadOfUnansweredRequestsBreaksTheBack()
    {
        // A full ring is fine; one more before we answered any is a request over an entry that holds one of ours.
        using PageLease pages = _pool.Rent();
        var back = Back(pages, initialize: true);
        Header(pages).RequestProducer = (uint)back.Size;
        for (int i = 0; i < back.Size; i++)
        {
            Assert.True(back.TryConsumeRequest(out _));
        }

        Header(pages).RequestProducer = (uint)back.Size + 1;
        XenRingException broken = Assert.Throws<XenRingException>(() => back.TryConsumeRequest(out _));
        Assert.Contains("ran past", broken.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ARequestProducerThatGoesBackwardsBreaksTheBack()
    {
        using PageLease pages = _pool.Rent();
        var back = Back(pages, initialize: true);
        Header(pages).RequestProducer = 4;
        for (int i = 0; i < 4; i++)
        {
            Assert.True(back.TryConsumeRequest(out _));
        }

        Header(pages).RequestProducer = 2;
        XenRingException broken = Assert.Throws<XenRingException>(() => back.FinalCheckForRequests());
        Assert.Contains("req_prod went backwards", broken.Message, StringComparison.Ordinal);
        AssertBrokenForGood(back, broken);
    }

    [Fact]
    public void AResponseProducerAheadOfThePushedRequestsBreaksTheFront()
    {
        using PageLease pages = _pool.Rent();
        var front = new FrontRing<BlkifRequest, BlkifResponse>(pages.Address, pages.Length, "blkif front");
        for (ulong i = 0; i < 3; i++)
        {
            Assert.True(front.TryProduceRequest(RingPayloads.Blkif(i)));
        }

        front.PushRequests();
        Assert.True(front.TryProduceRequest(RingPayloads.Blkif(3))); // produced, not pushed: no response may cover it
        Header(pages).ResponseProducer = 4;

        XenRingException broken = Assert.Throws<XenRingException>(() => front.TryConsumeResponse(out _));
        Assert.Contains("rsp_prod ran past the requests pushed", broken.Message, StringComparison.Ordinal);
        Assert.Contains("3 requests outstanding", broken.Message, StringComparison.Ordinal);
        AssertBrokenForGood(front, broken);
    }

    [Fact]
    public void AResponseBeforeAnyRequestBreaksTheFront()
    {
        using PageLease pages = _pool.Rent();
        var front = new FrontRing<NetifTxRequest, NetifTxResponse>(pages.Address, pages.Length, "tx front");
        Header(pages).ResponseProducer = 1;
        Assert.Throws<XenRingException>(() => front.FinalCheckForResponses());
    }

    [Fact]
    public void AResponseProducerThatGoesBackwardsBreaksTheFront()
    {
        using PageLease pages = _pool.Rent();
        var front = new FrontRing<BlkifRequest, BlkifResponse>(pages.Address, pages.Length, "blkif front");
        for (ulong i = 0; i < 3; i++)
        {
            Assert.True(front.TryProduceRequest(RingPayloads.Blkif(i)));
        }

        front.PushRequests();
        Header(pages).ResponseProducer = 3;
        Assert.True(front.TryConsumeResponse(out _));
        Header(pages).ResponseProducer = 1; // behind what we saw (3), though we consumed only 1
        Assert.True(front.TryConsumeResponse(out _)); // the copy of 3 seen stands until it is consumed
        Assert.True(front.TryConsumeResponse(out _));
        XenRingException broken = Assert.Throws<XenRingException>(() => front.TryConsumeResponse(out _));
        Assert.Contains("rsp_prod went backwards", broken.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void IndicesWrapAroundTwoToThe32()
    {
        // RING_IDX is unsigned and wraps: a ring attached just below 2^32 works across the wrap, and the checks still hold.
        using PageLease pages = _pool.Rent();
        const uint start = uint.MaxValue - 5;
        Header(pages).RequestProducer = start;
        Header(pages).ResponseProducer = start;
        var front = new FrontRing<BlkifRequest, BlkifResponse>(pages.Address, pages.Length, "front", initialize: false, attachIndex: start);
        var back = new BackRing<BlkifRequest, BlkifResponse>(pages.Address, pages.Length, "back", attachIndex: start);
        for (ulong round = 0; round < 4; round++)
        {
            for (ulong i = 0; i < 8; i++)
            {
                Assert.True(front.TryProduceRequest(RingPayloads.Blkif((round * 8) + i)));
            }

            front.PushRequests();
            for (ulong i = 0; i < 8; i++)
            {
                Assert.True(back.TryConsumeRequest(out BlkifRequest request));
                RingPayloads.CheckBlkif(request, (round * 8) + i);
                back.ProduceResponse(RingPayloads.BlkifAnswer(request, (round * 8) + i));
            }

            back.PushResponses();
            for (ulong i = 0; i < 8; i++)
            {
                Assert.True(front.TryConsumeResponse(out BlkifResponse response));
                RingPayloads.CheckBlkifResponse(response, (round * 8) + i);
            }
        }

        Assert.True(front.ResponseConsumer < start); // wrapped
        Header(pages).ResponseProducer = front.ResponseConsumer + 1;
        Assert.Throws<XenRingException>(() => front.TryConsumeResponse(out _));
    }

    [Fact]
    public void AnEntryIsCopiedOutBeforeItIsChecked()
    {
        // The peer rewrites an entry after we took it: our copy (checked once, used after) does not change.
        using PageLease pages = _pool.Rent();
        var back = Back(pages, initialize: true);
        WriteRequestEntry(pages, 0, RingPayloads.Blkif(0));
        Header(pages).RequestProducer = 1;
        Assert.True(back.TryConsumeRequest(out BlkifRequest request));
        WriteRequestEntry(pages, 0, RingPayloads.Blkif(99));
        RingPayloads.CheckBlkif(request, 0);
    }

    [Fact]
    public void GarbageEntriesAreCopiedWithinTheRingAndTheirCountsRejected()
    {
        using PageLease pages = _pool.Rent();
        Random.Shared.NextBytes(pages.Span);
        var back = Back(pages, initialize: false);
        Header(pages).RequestProducer = (uint)back.Size;
        int rejected = 0;
        for (int i = 0; i < back.Size; i++)
        {
            Assert.True(back.TryConsumeRequest(out BlkifRequest request));
            if (!request.TryGetSegmentCount(out int count))
            {
                rejected++;
                Assert.True(request.SegmentCount > BlkifRequest.MaxSegments);
            }
            else
            {
                Assert.InRange(count, 0, BlkifRequest.MaxSegments);
            }

            back.ProduceResponse(new BlkifResponse { Id = request.Id, Status = BlkifResponse.StatusError });
        }

        // Random counts above 11 are most of 256 values: a handful of 32 entries must have been caught.
        Assert.True(rejected > 0);
        Assert.False(back.TryConsumeRequest(out _));
    }

    [Fact]
    public void IndicesFlippedWhileWeConsumeEndBrokenNeverOutOfBounds()
    {
        // A peer thread writes random producer indices as fast as it can while the back consumes and answers: the back
        // either keeps up with valid values or breaks with the typed error; it never reads outside the entries (they are
        // masked) and never spins forever (bounded iterations).
        using PageLease pages = _pool.Rent();
        var back = Back(pages, initialize: true);
        using var stop = new CancellationTokenSource();
        nint header = pages.Address;
        int size = back.Size;
        var hostile = new Thread(() =>
        {
            var random = new Random(11);
            while (!stop.IsCancellationRequested)
            {
                Volatile.Write(ref *(uint*)header, (uint)random.Next(0, size * 3));
            }
        });
        hostile.Start();
        XenRingException? broken = null;
        try
        {
            for (int i = 0; i < 1_000_000; i++)
            {
                if (back.TryConsumeRequest(out BlkifRequest request))
                {
                    back.ProduceResponse(new BlkifResponse { Id = request.Id });
                }
                else
                {
                    back.PushResponses();
                }
            }
        }
        catch (XenRingException e)
        {
            broken = e;
        }
        finally
        {
            stop.Cancel();
            Assert.True(hostile.Join(TimeSpan.FromSeconds(10)));
        }

        Assert.NotNull(broken);
        AssertBrokenForGood(back, broken);
    }

    [Fact]
    public void TheRingRefusesMemoryThatIsNotWholeAlignedPages()
    {
        using PageLease pages = _pool.Rent();
        Assert.Throws<ArgumentException>(() => new BackRing<BlkifRequest, BlkifResponse>(pages.Address + 64, 4096));
        Assert.Throws<ArgumentException>(() => new BackRing<BlkifRequest, BlkifResponse>(pages.Address, 3 * 4096));
        Assert.Throws<ArgumentException>(() => new BackRing<BlkifRequest, BlkifResponse>(pages.Address, 100));
        Assert.Equal(128, new BackRing<BlkifRequest, BlkifResponse>(pages.Address, 4 * 4096).Size);
    }

    [Fact]
    public void ARingWorksOverAPageLeasesMemoryAndRefusesAManagedArray()
    {
        using PageLease pages = _pool.Rent();
        var front = new FrontRing<BlkifRequest, BlkifResponse>(pages.Memory[..4096]);
        var back = new BackRing<BlkifRequest, BlkifResponse>(pages.Memory[..4096]);
        Assert.Equal(pages.Address, front.Address);
        Assert.True(front.TryProduceRequest(RingPayloads.Blkif(7)));
        front.PushRequests();
        Assert.True(back.TryConsumeRequest(out BlkifRequest request));
        RingPayloads.CheckBlkif(request, 7);

        // A managed array is neither page-aligned (in general) nor shared; the two sizes below are never a ring.
        Assert.Throws<ArgumentException>(() => new BackRing<BlkifRequest, BlkifResponse>(new byte[4096 + 17].AsMemory(17)));
        Assert.Throws<ArgumentException>(() => new BackRing<BlkifRequest, BlkifResponse>(pages.Memory[..2048]));
    }

    private static BackRing<BlkifRequest, BlkifResponse> Back(PageLease pages, bool initialize)
    {
        if (initialize)
        {
            _ = new FrontRing<BlkifRequest, BlkifResponse>(pages.Address, 4096); // SHARED_RING_INIT, as the front would
        }

        return new BackRing<BlkifRequest, BlkifResponse>(pages.Address, 4096, "blkif back");
    }

    private static ref RingHeader Header(PageLease pages) => ref *(RingHeader*)pages.Address;

    private static void WriteRequestEntry(PageLease pages, int index, BlkifRequest request) =>
        Unsafe.WriteUnaligned((byte*)pages.Address + SharedRingLayout.EntriesOffset + (index * SharedRingLayout.EntrySize<BlkifRequest, BlkifResponse>()), request);

    private static void AssertBrokenForGood(BackRing<BlkifRequest, BlkifResponse> back, XenRingException broken)
    {
        Assert.True(back.IsBroken);
        Assert.Same(broken, back.BrokenReason);
        Assert.Same(broken, Assert.Throws<XenRingException>(() => back.TryConsumeRequest(out _)));
        Assert.Same(broken, Assert.Throws<XenRingException>(() => back.ProduceResponse(default)));
        Assert.Same(broken, Assert.Throws<XenRingException>(() => back.PushResponses()));
        Assert.Same(broken, Assert.Throws<XenRingException>(() => back.FinalCheckForRequests()));
    }

    private static void AssertBrokenForGood(FrontRing<BlkifRequest, BlkifResponse> front, XenRingException broken)
    {
        Assert.True(front.IsBroken);
        Assert.Same(broken, Assert.Throws<XenRingException>(() => front.TryConsumeResponse(out _)));
        Assert.Same(broken, Assert.Throws<XenRingException>(() => front.TryProduceRequest(default)));
        Assert.Same(broken, Assert.Throws<XenRingException>(() => front.PushRequests()));
        Assert.Same(broken, Assert.Throws<XenRingException>(() => front.FinalCheckForResponses()));
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct RingHeader
    {
        public uint RequestProducer;
        public uint RequestEvent;
        public uint ResponseProducer;
        public uint ResponseEvent;
    }
}
