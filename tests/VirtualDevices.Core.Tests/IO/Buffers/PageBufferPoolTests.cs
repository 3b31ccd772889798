using VirtualDevices.IO.Buffers;

namespace VirtualDevices.Tests.IO.Buffers;

public sealed class PageBufferPoolTests
{
    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    public void EveryBufferIsPageAlignedAndWholePages(int pagesPerBuffer)
    {
        using var pool = new PageBufferPool(maxBuffers: 100, pagesPerBuffer);
        var leases = new List<PageLease>();
        for (int i = 0; i < 100; i++)
        {
            PageLease lease = pool.Rent();
            Assert.Equal(0, lease.Address % PageBufferPool.PageSize);
            Assert.Equal(pagesPerBuffer * PageBufferPool.PageSize, lease.Length);
            Assert.Equal(pagesPerBuffer, lease.PageCount);
            Assert.Equal(lease.Length, lease.Memory.Length);
            Assert.Equal(lease.Length, lease.Span.Length);
            leases.Add(lease);
        }

        // No two leases overlap: each buffer is its own memory.
        long[] starts = leases.Select(l => (long)l.Address).Order().ToArray();
        for (int i = 1; i < starts.Length; i++)
        {
            Assert.True(starts[i] - starts[i - 1] >= pagesPerBuffer * PageBufferPool.PageSize);
        }

        leases.ForEach(l => l.Dispose());
        Assert.Equal(0, pool.InUse);
    }

    [Fact]
    public void AJumboFrameNeedsThreePagesAndAStandardOneOne()
    {
        Assert.Equal(1, PageBufferPool.PagesFor(1500 + 14 + 4));
        Assert.Equal(3, PageBufferPool.PagesFor(9000 + 14 + 4));
        Assert.Equal(1, PageBufferPool.PagesFor(4096));
        Assert.Equal(2, PageBufferPool.PagesFor(4097));
    }

    [Fact]
    public void MemoryIsWritableAndZeroedWhenFirstTaken()
    {
        using var pool = new PageBufferPool(4);
        using PageLease lease = pool.Rent();
        Assert.True(lease.Span.IndexOfAnyExcept((byte)0) < 0);
        lease.Span.Fill(0xA5);
        Assert.Equal(0xA5, lease.Memory.Span[4095]);
    }

    [Fact]
    public void ExhaustionFailsFastAndIsCountedWithoutGrowing()
    {
        using var pool = new PageBufferPool(maxBuffers: 3);
        PageLease[] leases = [pool.Rent(), pool.Rent(), pool.Rent()];
        Assert.False(pool.TryRent(out PageLease none));
        Assert.False(none.IsValid);
        var e = Assert.Throws<DeviceException>(() => pool.Rent());
        Assert.Equal(DeviceErrorIds.Device.BufferPoolExhausted, e.ErrorId);
        Assert.Equal(DeviceErrorCategory.LimitsExceeded, e.Category);
        Assert.Equal(2, pool.Exhaustions);
        Assert.Equal(3, pool.AllocatedBuffers);
        Assert.Equal(3, pool.InUse);
        leases[1].Dispose();
        Assert.True(pool.TryRent(out PageLease again));
        again.Dispose();
        leases[0].Dispose();
        leases[2].Dispose();
    }

    [Fact]
    public void AReturnedBufferIsRentedAgainLastInFirstOut()
    {
        using var pool = new PageBufferPool(maxBuffers: 200);
        PageLease first = pool.Rent();
        nint address = first.Address;
        first.Dispose();
        PageLease second = pool.Rent();
        Assert.Equal(address, second.Address);
        Assert.NotEqual(first, second); // the same memory, another turn
        second.Dispose();
        // Slabs are taken as needed, not all at once.
        Assert.True(pool.AllocatedBuffers < 200, $"{pool.AllocatedBuffers} buffers allocated for one rent");
    }

    [Fact]
    public void ReturningTwiceIsDetectedEvenAfterTheBufferWasLeasedAgain()
    {
        using var pool = new PageBufferPool(4);
        PageLease lease = pool.Rent();
        PageLease copy = lease;
        lease.Dispose();
        Assert.False(copy.IsValid);
        Assert.Throws<InvalidOperationException>(() => copy.Dispose());
        Assert.Throws<ObjectDisposedException>(() => copy.Span.Length);

        PageLease next = pool.Rent(); // the same buffer, now someone else's
        Assert.Throws<InvalidOperationException>(() => lease.Dispose());
        Assert.True(next.IsValid); // the stale return did not take it away
        Assert.Equal(1, pool.InUse);
        next.Dispose();
        default(PageLease).Dispose(); // owns nothing: harmless
    }

    [Fact]
    public void ADisposedPoolRefusesRentsAndFreesOnlyAfterTheLastReturn()
    {
        var pool = new PageBufferPool(4);
        PageLease held = pool.Rent();
        pool.Dispose();
        Assert.Throws<ObjectDisposedException>(() => pool.TryRent(out _));
        held.Span.Fill(1); // still usable: the memory stays until it is returned
        held.Dispose();
        Assert.Equal(0, pool.InUse);
    }

    [Fact]
    public void SteadyStateRentAndReturnAllocateNothing()
    {
        using var pool = new PageBufferPool(64);
        for (int i = 0; i < 1000; i++)
        {
            pool.Rent().Dispose();
        }

        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 10_000; i++)
        {
            using PageLease lease = pool.Rent();
            lease.Span[0] = (byte)i;
            _ = lease.Memory.Length;
        }

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }

    [Fact]
    public async Task ConcurrentRentAndReturnNeverShareABuffer()
    {
        const int Buffers = 16;
        using var pool = new PageBufferPool(Buffers);
        int holders = 0;
        int maxHolders = 0;
        long failures = 0;
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        Task[] workers = Enumerable.Range(0, 8).Select(worker => Task.Run(() =>
        {
            for (int i = 0; i < 20_000 && !cts.IsCancellationRequested; i++)
            {
                if (!pool.TryRent(out PageLease lease))
                {
                    Interlocked.Increment(ref failures);
                    continue;
                }

                int now = Interlocked.Increment(ref holders);
                InterlockedMax(ref maxHolders, now);
                // Stamp the buffer, then check no one else stamped it meanwhile.
                long stamp = ((long)worker << 32) | (uint)i;
                Span<long> words = System.Runtime.InteropServices.MemoryMarshal.Cast<byte, long>(lease.Span);
                words.Fill(stamp);
                Thread.SpinWait(50);
                Assert.True(words.IndexOfAnyExcept(stamp) < 0, "two leases shared a buffer");
                Interlocked.Decrement(ref holders);
                lease.Dispose();
            }
        })).ToArray();
        await Task.WhenAll(workers).WaitAsync(TimeSpan.FromSeconds(60));
        Assert.False(cts.IsCancellationRequested);
        Assert.Equal(0, pool.InUse);
        Assert.True(maxHolders <= Buffers);
        Assert.True(pool.AllocatedBuffers <= Buffers);
        Assert.Equal(failures, pool.Exhaustions);
    }

    private static void InterlockedMax(ref int target, int value)
    {
        int current;
        while ((current = Volatile.Read(ref target)) < value && Interlocked.CompareExchange(ref target, value, current) != current)
        {
        }
    }
}
