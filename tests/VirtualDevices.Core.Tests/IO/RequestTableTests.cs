using VirtualDevices.IO;

namespace VirtualDevices.Tests.IO;

/// <summary>
/// The request table alone: ids sized to the wire, generations that tell a stale reply from a live one, the three
/// parties (caller, sender, table) and the cancellation rules, closing, and no allocation per request.
/// </summary>
public sealed class RequestTableTests
{
    /// <summary>A request of the tests: the result is whatever the "reply" set.</summary>
    internal sealed class TestRequest : PooledRequest<int>
    {
        public int Value { get; private set; }

        public void Prepare(int value, bool inline = false)
        {
            Value = value;
            Begin(runContinuationsAsynchronously: !inline);
        }
    }

    private static RequestTable<TestRequest> Table(int capacity = int.MaxValue, int idBits = 64) => new(() => new TestRequest(), capacity, idBits);

    /// <summary>Sends (the sender's part) and replies (the reader's part) at once, as a connection would.</summary>
    private static void SendAndReply(RequestTable<TestRequest> table, TestRequest request, int result)
    {
        Assert.True(request.BeginSend());
        request.OnSent(null);
        TestRequest found = table.Lookup(request.Id) ?? throw new InvalidOperationException("not found");
        found.ReplyResult = result;
        found.OnReplied();
        found.LeaveTable();
    }

    [Fact]
    public async Task NbdLayoutIsGenerationAboveA32BitIndex()
    {
        RequestTable<TestRequest> table = Table();
        TestRequest first = table.Rent();
        first.Prepare(1);
        Assert.Equal(0UL, first.Id);
        SendAndReply(table, first, 5);
        Assert.Equal(5, await first.AsValueTask());

        TestRequest again = table.Rent();
        Assert.Same(first, again);
        again.Prepare(2);
        Assert.Equal(1UL << 32, again.Id);
        TestRequest second = table.Rent();
        second.Prepare(3);
        Assert.Equal(1UL, second.Id);
    }

    [Theory]
    [InlineData(32, 64, 5)]         // blkfront: a ring of 32 requests, 64-bit ids
    [InlineData(256, 16, 8)]        // netfront: 256 ids in 16 bits
    [InlineData(int.MaxValue, 32, 16)] // xenstore: 32-bit req_id, unbounded: 65,536 in flight, 16 bits of generation
    public async Task IdsFitTheWire(int capacity, int idBits, int indexBits)
    {
        RequestTable<TestRequest> table = Table(capacity, idBits);
        Assert.Equal(capacity == int.MaxValue ? 1 << indexBits : capacity, table.Capacity);

        // Cycle one slot through many generations: its ids keep its index in the low bits and stay within the width.
        TestRequest request = table.Rent();
        var seen = new HashSet<ulong>();
        int generations = Math.Min(300, idBits - indexBits >= 16 ? 300 : 1 << (idBits - indexBits));
        for (int i = 0; i < generations; i++)
        {
            if (i > 0)
            {
                Assert.Same(request, table.Rent());
            }

            request.Prepare(i);
            Assert.Equal((ulong)request.Index, request.Id & ((1UL << indexBits) - 1));
            Assert.True(idBits == 64 || request.Id < 1UL << idBits, $"id 0x{request.Id:x} does not fit {idBits} bits");
            Assert.True(seen.Add(request.Id), $"id 0x{request.Id:x} repeated within {generations} uses");
            SendAndReply(table, request, i);
            Assert.Equal(i, await request.AsValueTask());
        }
    }

    [Fact]
    public void ACapacityThatDoesNotFitTheIdIsRefused()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => Table(512, 8));
        Assert.Throws<ArgumentOutOfRangeException>(() => Table(0, 16));
        Assert.Throws<ArgumentOutOfRangeException>(() => Table(16, 65));
    }

    [Fact]
    public async Task AStaleReplyWithAnOldGenerationIsRejected()
    {
        RequestTable<TestRequest> table = Table(256, 16);
        TestRequest request = table.Rent();
        request.Prepare(1);
        ulong old = request.Id;
        SendAndReply(table, request, 1);
        _ = await request.AsValueTask();

        // After its final reply the old id matches nothing, not even while the slot is free.
        Assert.Null(table.Lookup(old));
        TestRequest reused = table.Rent();
        Assert.Same(request, reused);
        reused.Prepare(2);
        Assert.NotEqual(old, reused.Id);
        Assert.Equal(old & 0xff, reused.Id & 0xff);
        Assert.Null(table.Lookup(old));
        Assert.Same(reused, table.Lookup(reused.Id));

        // Ids outside the table's width or its slots match nothing either.
        Assert.Null(table.Lookup(0x1_0000));
        Assert.Null(table.Lookup(200));
    }

    [Fact]
    public async Task CancelledBeforeSendingItIsDroppedAndItsSlotReturns()
    {
        RequestTable<TestRequest> table = Table(1, 16);
        using var cancel = new CancellationTokenSource();
        TestRequest request = table.Rent();
        request.Prepare(1);
        request.RegisterCancellation(cancel.Token);
        ValueTask<int> pending = request.AsValueTask();
        cancel.Cancel();
        Assert.False(pending.IsCompleted);

        // The sender finds it cancelled: it never goes out, and leaves the table (no reply will come).
        Assert.False(request.BeginSend());
        request.OnSent(null);
        Assert.Equal(0, table.InFlight);
        await Assert.ThrowsAsync<OperationCanceledException>(async () => await pending);

        // All three parties let go: the only slot is free again.
        Assert.True(table.TryRent(out TestRequest again));
        Assert.Same(request, again);
    }

    [Fact]
    public async Task CancelledAfterSendingTheCallerIsFreedAtOnceAndTheLateReplyIsDiscarded()
    {
        RequestTable<TestRequest> table = Table(1, 16);
        using var cancel = new CancellationTokenSource();
        TestRequest request = table.Rent();
        request.Prepare(1);
        request.RegisterCancellation(cancel.Token);
        ValueTask<int> pending = request.AsValueTask();
        Assert.True(request.BeginSend());
        request.OnSent(null);
        ulong id = request.Id;

        cancel.Cancel();
        await Assert.ThrowsAsync<OperationCanceledException>(async () => await pending).WaitAsync(TimeSpan.FromSeconds(10));

        // The request stays in the table (the peer will answer it), so the slot is not reused under the late reply.
        Assert.Equal(1, table.InFlight);
        Assert.False(table.TryRent(out _));
        TestRequest late = table.Lookup(id) ?? throw new InvalidOperationException("the late reply found nothing");
        Assert.False(late.BeginReceive());
        late.OnReplied();
        late.LeaveTable();
        Assert.Equal(0, table.InFlight);
        Assert.True(table.TryRent(out _));
    }

    [Fact]
    public async Task CancelledWhileTheReaderFillsTheBufferTheCallerWaitsForTheReader()
    {
        RequestTable<TestRequest> table = Table();
        using var cancel = new CancellationTokenSource();
        TestRequest request = table.Rent();
        request.Prepare(1);
        request.RegisterCancellation(cancel.Token);
        ValueTask<int> pending = request.AsValueTask();
        Assert.True(request.BeginSend());
        request.OnSent(null);

        Assert.True(request.BeginReceive());
        cancel.Cancel();
        await Task.Delay(50);
        Assert.False(pending.IsCompleted);   // the caller's buffer is still being written
        request.EndReceive();
        await Assert.ThrowsAsync<OperationCanceledException>(async () => await pending).WaitAsync(TimeSpan.FromSeconds(10));
    }

    [Fact]
    public async Task CloseFailsWhatIsInFlightAndWhatComesLater()
    {
        RequestTable<TestRequest> table = Table(2, 16);
        TestRequest first = table.Rent();
        first.Prepare(1);
        ValueTask<int> pending = first.AsValueTask();
        Assert.True(first.BeginSend());
        first.OnSent(null);
        TestRequest second = table.Rent();
        ValueTask<TestRequest> waiting = table.RentAsync();
        Assert.False(waiting.IsCompleted);

        var reason = new IOException("the ring broke");
        table.Close(reason);
        Assert.Same(reason, await Assert.ThrowsAsync<IOException>(async () => await pending));
        Assert.Same(reason, await Assert.ThrowsAsync<IOException>(async () => await waiting).WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.Same(reason, Assert.Throws<IOException>(() => table.Rent()));
        Assert.Equal(0, table.InFlight);

        // Rented before the close and begun after it: failed at once, as a connection's late submitter is.
        second.Prepare(2);
        Assert.Same(reason, await Assert.ThrowsAsync<IOException>(async () => await second.AsValueTask()));
        Assert.Equal(0, table.InFlight);
    }

    [Fact]
    public void ARequestCycleAllocatesNothing()
    {
        RequestTable<TestRequest> table = Table();
        void Cycle(int i)
        {
            TestRequest request = table.Rent();
            request.Prepare(i);
            ValueTask<int> pending = request.AsValueTask();
            SendAndReply(table, request, i);
            if (pending.GetAwaiter().GetResult() != i)
            {
                throw new InvalidOperationException("wrong result");
            }
        }

        for (int i = 0; i < 100; i++)
        {
            Cycle(i);
        }

        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 10_000; i++)
        {
            Cycle(i);
        }

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }
}
