using System.Globalization;
using System.Text;
using VirtualDevices.Xen.Xenstore;
using VirtualDevices.Xen.Xenstore.Client;

namespace VirtualDevices.Tests.Xenstore;

/// <summary>The client's request engine: allocation-free round trips, request ids past the slot table, and
/// cancellations racing replies without a reply ever reaching the wrong request.</summary>
public sealed class XenstoreClientEngineTests
{
    [Fact(Timeout = XenstoreTestTimeouts.Test)]
    public async Task Writes_and_reads_allocate_nothing_but_the_result()
    {
        await using var server = XenstoreTestServer.Start();
        await using XenstoreClient xs = await server.ConnectAsync();
        byte[] value = Encoding.ASCII.GetBytes(new string('v', 32));
        for (int i = 0; i < 2000; i++)
        {
            // Warm up (tiered compilation, pools); the awaits leave this method running on the client's reader thread.
            await xs.WriteAsync("/alloc/k", value);
            await xs.ReadAsync("/alloc/k");
        }

        const int Count = 1000;
        for (int attempt = 0; ; attempt++)
        {
            int thread = Environment.CurrentManagedThreadId;
            long before = GC.GetAllocatedBytesForCurrentThread();
            for (int i = 0; i < Count; i++)
            {
                await xs.WriteAsync("/alloc/k", value);
            }

            long writes = GC.GetAllocatedBytesForCurrentThread() - before;
            before = GC.GetAllocatedBytesForCurrentThread();
            for (int i = 0; i < Count; i++)
            {
                await xs.ReadAsync("/alloc/k");
            }

            long reads = GC.GetAllocatedBytesForCurrentThread() - before;
            if (thread != Environment.CurrentManagedThreadId && attempt < 5)
            {
                // Resumed on another thread: the per-thread counters do not compare; measure again.
                continue;
            }

            Assert.Equal(thread, Environment.CurrentManagedThreadId);
            Assert.True(writes == 0, $"{(double)writes / Count} bytes allocated per write");
            // The result is a new 32-byte array (56 bytes with its header); nothing else.
            Assert.True(reads <= Count * 56, $"{(double)reads / Count} bytes allocated per read");
            break;
        }
    }

    [Fact(Timeout = XenstoreTestTimeouts.Test)]
    public async Task More_requests_in_flight_than_slots_all_get_their_own_replies()
    {
        await using var server = XenstoreTestServer.Start();
        await using XenstoreClient xs = await server.ConnectAsync();
        for (int i = 0; i < 600; i++)
        {
            await xs.WriteAsync(Key(i), Value(i));
        }

        for (int round = 0; round < 5; round++)
        {
            // Each round is issued off the reader thread (where awaits resume): a continuation there that sends more
            // than the socket buffers hold, without reading, would wait for itself.
            ValueTask<string>[] reads = await Task.Run(() =>
            {
                var issued = new ValueTask<string>[600];
                for (int i = 0; i < issued.Length; i++)
                {
                    issued[i] = xs.ReadStringAsync(Key(i));
                }

                return issued;
            });
            for (int i = 0; i < reads.Length; i++)
            {
                Assert.Equal(Value(i), await reads[i]);
            }
        }
    }

    [Theory(Timeout = XenstoreTestTimeouts.Test)]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Cancellations_racing_replies_never_deliver_a_reply_to_the_wrong_request(bool asyncContinuations)
    {
        await using var server = XenstoreTestServer.Start();
        await using XenstoreClient xs = await XenstoreClient.ConnectAsync(new XenstoreClientOptions
        {
            SocketPath = server.SocketPath,
            RunContinuationsAsynchronously = asyncContinuations,
        });
        for (int i = 0; i < 64; i++)
        {
            await xs.WriteAsync(Key(i), Value(i));
        }

        int completed = 0;
        int cancelled = 0;
        await Task.WhenAll(Enumerable.Range(0, 8).Select(worker => Task.Run(async () =>
        {
            var random = new Random(worker);
            for (int n = 0; n < 400; n++)
            {
                int i = random.Next(64);
                using var cts = new CancellationTokenSource();
                ValueTask<string> read = xs.ReadStringAsync(Key(i), cts.Token);
                if (random.Next(3) == 0)
                {
                    // Cancel before, while or after the reply arrives.
                    if (random.Next(2) == 0)
                    {
                        Thread.SpinWait(random.Next(2000));
                    }

                    cts.Cancel();
                }

                try
                {
                    string got = await read;
                    Assert.True(got == Value(i), $"read of {Key(i)} completed with '{got ?? "null"}' (cancelled: {cts.IsCancellationRequested})");
                    Interlocked.Increment(ref completed);
                }
                catch (OperationCanceledException)
                {
                    Interlocked.Increment(ref cancelled);
                }
            }
        })));

        Assert.Equal(8 * 400, completed + cancelled);
        for (int i = 0; i < 64; i++)
        {
            Assert.Equal(Value(i), await xs.ReadStringAsync(Key(i)));
        }
    }

    private static string Key(int i) => "/engine/k" + i.ToString(CultureInfo.InvariantCulture);

    private static string Value(int i) => "value-" + i.ToString(CultureInfo.InvariantCulture);
}
