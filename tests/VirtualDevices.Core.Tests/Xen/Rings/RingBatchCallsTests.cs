using VirtualDevices.IO.Buffers;
using VirtualDevices.Xen.Rings;

namespace VirtualDevices.Tests.Xen.Rings;

/// <summary>
/// The batch calls (spans, and a struct source or sink written straight into or taken straight out of the ring): the
/// same entries, order, limits and checks as the per-entry calls, across the wrap, with blkif's entry (112 bytes, a
/// response of 16 in it) so that the stride is the union's and not the type's.
/// </summary>
public sealed unsafe class RingBatchCallsTests : IDisposable
{
    private readonly PageBufferPool _pool = new(maxBuffers: 1);

    public void Dispose() => _pool.Dispose();

    [Fact]
    public void SpanBatchesGoRoundTheRingInOrderAcrossTheWrap()
    {
        using PageLease pages = _pool.Rent();
        var front = new FrontRing<BlkifRequest, BlkifResponse>(pages.Address, pages.Length);
        var back = new BackRing<BlkifRequest, BlkifResponse>(pages.Address, pages.Length);
        Assert.Equal(32, front.Size);
        var requests = new BlkifRequest[20];
        var taken = new BlkifRequest[front.Size];
        var responses = new BlkifResponse[front.Size];
        ulong sent = 0, answered = 0;
        for (int round = 0; round < 100; round++) // 2,000 requests: the indices wrap the 32 entries 62 times
        {
            for (int i = 0; i < requests.Length; i++)
            {
                requests[i] = new BlkifRequest { Id = sent + (ulong)i, SectorNumber = (sent + (ulong)i) * 8, Operation = BlkifRequest.OperationRead };
            }

            Assert.Equal(20, front.ProduceRequests(requests));
            front.PushRequests();
            int got = back.ConsumeRequests(taken);
            Assert.Equal(20, got);
            for (int i = 0; i < got; i++)
            {
                Assert.Equal(sent + (ulong)i, taken[i].Id);
                Assert.Equal((sent + (ulong)i) * 8, taken[i].SectorNumber);
                responses[i] = new BlkifResponse { Id = taken[i].Id, Operation = taken[i].Operation, Status = BlkifResponse.StatusOkay };
            }

            back.ProduceResponses(responses.AsSpan(0, got));
            back.PushResponses();
            sent += 20;
            int answers = front.ConsumeResponses(responses);
            Assert.Equal(20, answers);
            for (int i = 0; i < answers; i++)
            {
                Assert.Equal(answered++, responses[i].Id);
            }
        }

        Assert.Equal(2000u, front.RequestProducerPrivate);
        Assert.Equal(2000u, front.ResponseConsumer);
        Assert.Equal(0, front.ConsumeResponses(responses));
        Assert.Equal(0, back.ConsumeRequests(taken));
    }

    [Fact]
    public void ProducingWritesOnlyWhatTheRingHasRoomFor()
    {
        using PageLease pages = _pool.Rent();
        var front = new FrontRing<BlkifRequest, BlkifResponse>(pages.Address, pages.Length);
        var requests = new BlkifRequest[40];
        Assert.Equal(32, front.ProduceRequests(requests));
        Assert.True(front.IsFull);
        Assert.Equal(0, front.ProduceRequests(requests));
        var source = new NumberedRequests();
        Assert.Equal(0, front.ProduceRequests(5, ref source));
        Assert.Equal(0ul, source.Peek()); // the source was not asked for any
    }

    [Fact]
    public void AConsumeTakesNoMoreThanItsSpanAndReadsTheProducerOnlyWhenTheSeenAreTaken()
    {
        using PageLease pages = _pool.Rent();
        var front = new FrontRing<BlkifRequest, BlkifResponse>(pages.Address, pages.Length);
        var back = new BackRing<BlkifRequest, BlkifResponse>(pages.Address, pages.Length);
        var source = new NumberedRequests();
        Assert.Equal(10, front.ProduceRequests(10, ref source));
        front.PushRequests();
        var taken = new BlkifRequest[32];
        Assert.Equal(4, back.ConsumeRequests(taken.AsSpan(0, 4)));

        // Five more are pushed; the next call takes the six seen without reading req_prod, the one after reads it.
        Assert.Equal(5, front.ProduceRequests(5, ref source));
        front.PushRequests();
        Assert.Equal(6, back.ConsumeRequests(taken));
        Assert.Equal(4ul, taken[0].Id);
        Assert.Equal(9ul, taken[5].Id);
        Assert.Equal(5, back.ConsumeRequests(taken));
        Assert.Equal(10ul, taken[0].Id);
        Assert.Equal(14ul, taken[4].Id);
    }

    [Fact]
    public void MoreResponsesThanRequestsTakenIsRefusedAndNothingIsWritten()
    {
        using PageLease pages = _pool.Rent();
        var front = new FrontRing<BlkifRequest, BlkifResponse>(pages.Address, pages.Length);
        var back = new BackRing<BlkifRequest, BlkifResponse>(pages.Address, pages.Length);
        var source = new NumberedRequests();
        front.ProduceRequests(3, ref source);
        front.PushRequests();
        Assert.Equal(3, back.ConsumeRequests(new BlkifRequest[8]));

        Assert.Throws<InvalidOperationException>(() => back.ProduceResponses(new BlkifResponse[4]));
        Assert.Equal(0u, back.ResponseProducerPrivate);
        var answers = new NumberedResponses();
        Assert.Throws<InvalidOperationException>(() => back.ProduceResponses(4, ref answers));
        Assert.Equal(0u, back.ResponseProducerPrivate);
        Assert.Equal(0ul, answers.Peek()); // the source was not asked for any

        back.ProduceResponses(2, ref answers);
        back.ProduceResponses([new BlkifResponse { Id = 2 }]);
        Assert.False(back.IsBroken);
        back.PushResponses();
        var check = new ExpectIds();
        Assert.Equal(3, front.ConsumeResponses(int.MaxValue, ref check));
        Assert.Equal(3ul, check.Expected);
    }

    [Fact]
    public void ASinkThatThrowsHasConsumedTheEntriesUpToItAndTheRestWait()
    {
        using PageLease pages = _pool.Rent();
        var front = new FrontRing<BlkifRequest, BlkifResponse>(pages.Address, pages.Length);
        var back = new BackRing<BlkifRequest, BlkifResponse>(pages.Address, pages.Length);
        var source = new NumberedRequests();
        front.ProduceRequests(6, ref source);
        front.PushRequests();
        var taking = new ThrowAt { At = 2 };
        Assert.Throws<InvalidDataException>(() => back.ConsumeRequests(int.MaxValue, ref taking));
        Assert.Equal(3u, back.RequestConsumer); // 0, 1 and the one it threw on

        var rest = new BlkifRequest[8];
        Assert.Equal(3, back.ConsumeRequests(rest));
        Assert.Equal(3ul, rest[0].Id);
        Assert.Equal(5ul, rest[2].Id);
    }

    [Fact]
    public void ABackSinkCanAnswerEachRequestAsItTakesIt()
    {
        using PageLease pages = _pool.Rent();
        var front = new FrontRing<BlkifRequest, BlkifResponse>(pages.Address, pages.Length);
        var back = new BackRing<BlkifRequest, BlkifResponse>(pages.Address, pages.Length);
        var source = new NumberedRequests();
        Assert.Equal(7, front.ProduceRequests(7, ref source));
        front.PushRequests();
        var answer = new AnswerEach(back);
        Assert.Equal(7, back.ConsumeRequests(int.MaxValue, ref answer));
        Assert.Equal(7, answer.Answered);
        Assert.Equal(0, back.UnansweredRequests);
        back.PushResponses();
        var check = new ExpectIds();
        Assert.Equal(7, front.ConsumeResponses(int.MaxValue, ref check));
    }

    [Fact]
    public void ASourceThatThrowsProducesNothing()
    {
        using PageLease pages = _pool.Rent();
        var front = new FrontRing<BlkifRequest, BlkifResponse>(pages.Address, pages.Length);
        var failing = new FailingRequests { FailAt = 3 };
        Assert.Throws<InvalidDataException>(() => front.ProduceRequests(5, ref failing));
        Assert.Equal(0u, front.RequestProducerPrivate);
        Assert.False(front.PushRequests());
    }

    [Fact]
    public void TheBatchCallsCheckTheProducerIndexAndABrokenRingRefusesThemAll()
    {
        using PageLease pages = _pool.Rent();
        var front = new FrontRing<BlkifRequest, BlkifResponse>(pages.Address, pages.Length);
        var back = new BackRing<BlkifRequest, BlkifResponse>(pages.Address, pages.Length);
        uint* header = (uint*)pages.Address;
        var source = new NumberedRequests();
        front.ProduceRequests(1, ref source);
        front.PushRequests();

        header[2] = 2; // rsp_prod past the one request pushed
        var check = new ExpectIds();
        Assert.Contains("rsp_prod ran past", Assert.Throws<XenRingException>(() => front.ConsumeResponses(int.MaxValue, ref check)).Message, StringComparison.Ordinal);
        Assert.Equal(0ul, check.Expected); // nothing was handed over
        Assert.Throws<XenRingException>(() => front.ConsumeResponses(new BlkifResponse[4]));
        Assert.Throws<XenRingException>(() => front.ProduceRequests(new BlkifRequest[1]));
        Assert.Throws<XenRingException>(() => front.ProduceRequests(1, ref source));

        header[0] = 1 + (uint)back.Size + 1; // req_prod more than a ring ahead of the responses
        Assert.Contains("req_prod ran past", Assert.Throws<XenRingException>(() => back.ConsumeRequests(new BlkifRequest[4])).Message, StringComparison.Ordinal);
        var taking = new ThrowAt { At = int.MaxValue };
        Assert.Throws<XenRingException>(() => back.ConsumeRequests(int.MaxValue, ref taking));
        Assert.Throws<XenRingException>(() => back.ProduceResponses(ReadOnlySpan<BlkifResponse>.Empty));
        var answers = new NumberedResponses();
        Assert.Throws<XenRingException>(() => back.ProduceResponses(0, ref answers));
    }

    private struct NumberedRequests : IRingEntrySource<BlkifRequest>
    {
        private ulong _next;

        public void Fill(ref BlkifRequest entry) => entry = new() { Id = _next++, Operation = BlkifRequest.OperationWrite };

        public ulong Peek() => _next;
    }

    private struct NumberedResponses : IRingEntrySource<BlkifResponse>
    {
        private ulong _next;

        public void Fill(ref BlkifResponse entry) => entry = new() { Id = _next++, Status = BlkifResponse.StatusOkay };

        public ulong Peek() => _next;
    }

    private struct FailingRequests : IRingEntrySource<BlkifRequest>
    {
        public int FailAt;
        private int _made;

        public void Fill(ref BlkifRequest entry) => entry = _made++ == FailAt ? throw new InvalidDataException("no more") : new BlkifRequest { Id = (ulong)_made };
    }

    private struct ExpectIds : IRingEntrySink<BlkifResponse>
    {
        public ulong Expected;

        public void Take(BlkifResponse entry)
        {
            Assert.Equal(Expected, entry.Id);
            Expected++;
        }
    }

    private struct AnswerEach(BackRing<BlkifRequest, BlkifResponse> ring) : IRingEntrySink<BlkifRequest>
    {
        public int Answered;

        public void Take(BlkifRequest entry)
        {
            ring.ProduceResponse(new BlkifResponse { Id = entry.Id, Status = BlkifResponse.StatusOkay });
            Answered++;
        }
    }

    private struct ThrowAt : IRingEntrySink<BlkifRequest>
    {
        public int At;
        private int _taken;

        public void Take(BlkifRequest entry)
        {
            Assert.Equal((ulong)_taken, entry.Id);
            if (_taken++ == At)
            {
                throw new InvalidDataException("refused");
            }
        }
    }
}
