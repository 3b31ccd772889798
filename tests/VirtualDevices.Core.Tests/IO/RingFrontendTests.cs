using System.Collections.Concurrent;
using VirtualDevices.IO;

namespace VirtualDevices.Tests.IO;

/// <summary>
/// A toy Xen ring frontend on the request table, as netfront uses its id freelist: 256 ids in 16 bits, requests
/// pushed onto a ring that a backend thread consumes, responses carrying the id back. Shows that the table serves a
/// small id space: exhaustion waits (or fails clearly), ids are reused with a new generation, a stale response is
/// rejected, cancellation before and after the push, and many callers at once.
/// </summary>
public sealed class RingFrontendTests
{
    private const int RingSize = 256;

    /// <summary>One request: a value the backend doubles.</summary>
    private sealed class RingRequest : PooledRequest<int>
    {
        public int Value { get; private set; }

        public void Prepare(int value)
        {
            Value = value;
            Begin(runContinuationsAsynchronously: true);
        }
    }

    /// <summary>The shared ring, reduced to its two directions (the table, not the ring, is under test).</summary>
    private sealed class ToyRing : IDisposable
    {
        private readonly BlockingCollection<(ushort Id, int Value)> _requests = new(RingSize);
        private readonly BlockingCollection<(ushort Id, int Value)> _responses = [];
        private readonly ManualResetEventSlim _running = new(true);
        private readonly Thread _backend;

        public ToyRing()
        {
            _backend = new Thread(Backend) { IsBackground = true, Name = "toy-ring-back" };
            _backend.Start();
        }

        public void Push(ushort id, int value) => _requests.Add((id, value));

        public bool TryPop(out (ushort Id, int Value) response, int timeoutMilliseconds) => _responses.TryTake(out response, timeoutMilliseconds);

        /// <summary>A response the backend never made (a replayed or forged id).</summary>
        public void Inject(ushort id, int value) => _responses.Add((id, value));

        public void Pause() => _running.Reset();

        public void Resume() => _running.Set();

        public void Dispose()
        {
            _requests.CompleteAdding();
            _running.Set();
            _backend.Join(TimeSpan.FromSeconds(10));
            _responses.CompleteAdding();
        }

        private void Backend()
        {
            foreach ((ushort id, int value) in _requests.GetConsumingEnumerable())
            {
                _running.Wait();
                _responses.Add((id, value * 2));
            }
        }
    }

    /// <summary>The frontend: a table of 256 16-bit ids, a reader thread matching responses to requests.</summary>
    private sealed class Frontend : IDisposable
    {
        private readonly ToyRing _ring;
        private readonly Thread _reader;
        private volatile bool _stopping;
        private int _stale;

        public Frontend(ToyRing ring)
        {
            _ring = ring;
            Table = new RequestTable<RingRequest>(() => new RingRequest(), RingSize, idBits: 16);
            _reader = new Thread(ReadLoop) { IsBackground = true, Name = "toy-ring-front" };
            _reader.Start();
        }

        public RequestTable<RingRequest> Table { get; }

        public int StaleResponses => Volatile.Read(ref _stale);

        /// <summary>Waits for a free id, pushes the request, awaits the response.</summary>
        public async Task<int> CallAsync(int value, CancellationToken cancellationToken = default)
        {
            RingRequest request = await Table.RentAsync(cancellationToken);
            return await Push(request, value, cancellationToken);
        }

        /// <summary>Pushes a request on an id already rented (the sender's part, on the caller's thread).</summary>
        public ValueTask<int> Push(RingRequest request, int value, CancellationToken cancellationToken)
        {
            request.Prepare(value);
            request.RegisterCancellation(cancellationToken);
            if (request.BeginSend())
            {
                _ring.Push((ushort)request.Id, value);
            }

            request.OnSent(null);
            return request.AsValueTask();
        }

        public void Dispose()
        {
            _stopping = true;
            _reader.Join(TimeSpan.FromSeconds(10));
            Table.Close(new ObjectDisposedException("toy frontend"));
        }

        private void ReadLoop()
        {
            while (!_stopping)
            {
                if (!_ring.TryPop(out (ushort Id, int Value) response, 20))
                {
                    continue;
                }

                // A response is matched by id; one whose generation is not the slot's current use is dropped and
                // counted, as netfront's "broken" check would flag it.
                if (Table.Lookup(response.Id) is not { } request)
                {
                    Interlocked.Increment(ref _stale);
                    continue;
                }

                request.Reply(response.Value);
            }
        }
    }

    [Fact]
    public async Task ManyCallersShare256IdsAndEveryAnswerReachesItsCaller()
    {
        using var ring = new ToyRing();
        using var frontend = new Frontend(ring);
        int[] results = await Task.WhenAll(Enumerable.Range(0, 8).Select(worker => Task.Run(async () =>
        {
            int sum = 0;
            for (int i = 0; i < 2_000; i++)
            {
                int value = (worker * 100_000) + i;
                int answer = await frontend.CallAsync(value);
                Assert.Equal(value * 2, answer);
                sum++;
            }

            return sum;
        }))).WaitAsync(TimeSpan.FromSeconds(60));

        Assert.All(results, r => Assert.Equal(2_000, r));
        Assert.Equal(0, frontend.Table.InFlight);
        Assert.InRange(frontend.Table.SlotCount, 1, RingSize);
        Assert.Equal(0, frontend.StaleResponses);
    }

    [Fact]
    public async Task WhenAll256IdsAreInUseRentingWaitsOrFailsClearly()
    {
        using var ring = new ToyRing();
        using var frontend = new Frontend(ring);
        ring.Pause();
        Task<int>[] calls = Enumerable.Range(0, RingSize).Select(i => frontend.CallAsync(i)).ToArray();
        Assert.Equal(RingSize, frontend.Table.InFlight);

        Assert.False(frontend.Table.TryRent(out _));
        InvalidOperationException full = Assert.Throws<InvalidOperationException>(() => frontend.Table.Rent());
        Assert.Contains("256", full.Message);

        // A caller that waits gives up on its own cancellation; one that keeps waiting gets the next free id.
        using (var soon = new CancellationTokenSource(TimeSpan.FromMilliseconds(100)))
        {
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => frontend.CallAsync(-1, soon.Token)).WaitAsync(TimeSpan.FromSeconds(10));
        }

        Task<int> waiting = frontend.CallAsync(1_000);
        await Task.Delay(50);
        Assert.False(waiting.IsCompleted);

        ring.Resume();
        int[] answers = await Task.WhenAll(calls).WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(Enumerable.Range(0, RingSize).Select(i => i * 2), answers);
        Assert.Equal(2_000, await waiting.WaitAsync(TimeSpan.FromSeconds(30)));
        Assert.Equal(RingSize, frontend.Table.SlotCount);
    }

    [Fact]
    public async Task IdsAreReusedWithANewGenerationAndAReplayedResponseIsRejected()
    {
        using var ring = new ToyRing();
        using var frontend = new Frontend(ring);
        RingRequest used = frontend.Table.Rent();
        ulong first = used.Id;
        uint generation = used.Generation;
        Assert.Equal(6, await frontend.Push(used, 3, CancellationToken.None));

        // Once every party let go, the freed slot is the next one handed out, under a new id with the same index.
        await WaitUntilAsync(() => used.Generation != generation);
        await Task.Delay(20);
        RingRequest request = frontend.Table.Rent();
        Assert.Same(used, request);
        ring.Pause();
        ValueTask<int> pending = frontend.Push(request, 21, CancellationToken.None);
        Assert.NotEqual(first, request.Id);
        Assert.Equal(first & 0xff, request.Id & 0xff);

        // A response under the previous id (a replay) is dropped and must not complete the current use.
        ring.Inject((ushort)first, 777);
        await WaitUntilAsync(() => frontend.StaleResponses == 1);
        Assert.False(pending.IsCompleted);

        ring.Resume();
        Assert.Equal(42, await pending.AsTask().WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.Equal(1, frontend.StaleResponses);
    }

    [Fact]
    public async Task CancellationBeforeThePushDropsTheRequestAndAfterItFreesTheCallerAtOnce()
    {
        using var ring = new ToyRing();
        using var frontend = new Frontend(ring);

        // Before: the request never reaches the ring; its id is free again at once.
        using (var cancelled = new CancellationTokenSource())
        {
            cancelled.Cancel();
            RingRequest request = frontend.Table.Rent();
            await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await frontend.Push(request, 5, cancelled.Token));
            Assert.Equal(0, frontend.Table.InFlight);
        }

        // After: the caller is freed at once; the id stays taken until the backend answers, then is reused.
        ring.Pause();
        using var cancel = new CancellationTokenSource();
        Task<int> call = frontend.CallAsync(9, cancel.Token);
        cancel.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => call).WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(1, frontend.Table.InFlight);
        ring.Resume();
        await WaitUntilAsync(() => frontend.Table.InFlight == 0);
        Assert.Equal(0, frontend.StaleResponses);
        Assert.Equal(8, await frontend.CallAsync(4).WaitAsync(TimeSpan.FromSeconds(10)));
    }

    private static async Task WaitUntilAsync(Func<bool> condition)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (!condition())
        {
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(10), "condition not met within 10 s");
            await Task.Delay(5);
        }
    }
}
