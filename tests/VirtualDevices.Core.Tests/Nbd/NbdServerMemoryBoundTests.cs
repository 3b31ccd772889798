using VirtualDevices.Block;
using VirtualDevices.Nbd.Server;

namespace VirtualDevices.Tests.Nbd;

/// <summary>
/// A client that sends many 32 MiB reads and never reads the replies: the server must hold at most its budget of
/// reply bytes for it (then stop reading its requests, as qemu-nbd and nbdkit do by serving a bounded number of
/// requests per connection), and once the client has gone, the reads it left queued must not reach the device.
/// </summary>
[Collection(NbdServerMemoryCollection.Name)]
public sealed class NbdServerMemoryBoundTests
{
    private const int ReadSize = 32 * 1024 * 1024;
    private const int Requests = 200;
    private const long MiB = 1024 * 1024;

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task ReadsNeverCollectedHoldAtMostTheConnectionBudgetAndDieWithTheConnection(bool asynchronousDevice)
    {
        using var dir = new TempDirectory();
        string socket = dir.File("bound.sock");
        CancellationToken ct = NbdPeers.Deadline();
        await using var device = new CountingDevice(1L << 30, asynchronousDevice);
        var options = new NbdServerOptions { UnixSocketPath = socket };
        long budget = options.MaximumBytesInFlightPerConnection;
        Assert.True(budget <= 64 * MiB, $"the default per-connection budget is {budget} bytes");
        await using var server = new NbdServer(options, new NbdExport("", device));
        await server.StartAsync(ct);

        long baseline = SettledHeap();
        NbdRawClient client = await NbdRawClient.ConnectAsync(socket, ct);
        try
        {
            byte[] burst = new byte[Requests * 28];
            for (int i = 0; i < Requests; i++)
            {
                NbdRawClient.ReadRequest((ulong)i + 1, (ulong)(i % 32) * ReadSize, ReadSize).CopyTo(burst, i * 28);
            }

            await client.SendAsync(burst, ct); // 5.6 KB: the socket takes it all; the replies are never read

            // The server takes what it will, then stops: wait until the device has been idle for a second.
            long peakHeap = 0;
            int seen = -1;
            var still = System.Diagnostics.Stopwatch.StartNew();
            while (still.Elapsed < TimeSpan.FromSeconds(1) || device.Reads == 0)
            {
                ct.ThrowIfCancellationRequested();
                peakHeap = Math.Max(peakHeap, GC.GetTotalMemory(false));
                if (device.Reads != seen)
                {
                    seen = device.Reads;
                    still.Restart();
                }

                await Task.Delay(10, ct);
            }

            NbdServerStatistics held = server.GetStatistics();
            long growth = peakHeap - baseline;
            Assert.True(held.PeakBytesInFlight <= budget, $"peak {held.PeakBytesInFlight} bytes in flight, budget {budget}");
            Assert.True(held.BytesInFlight > 0 && held.BytesInFlight <= budget, $"{held.BytesInFlight} bytes in flight");
            Assert.True(growth < budget + (128 * MiB), $"the heap grew by {growth / MiB} MiB for one client that never reads");
            Assert.True(device.Reads <= (budget / ReadSize) + 1, $"{device.Reads} reads run for a client that collected none");
        }
        finally
        {
            client.Dispose(); // gone, with replies unread: the server's sends fail
        }

        int readsAtClose = device.Reads;
        while (server.ConnectionCount > 0)
        {
            await Task.Delay(10, ct);
        }

        Assert.True(device.Reads <= readsAtClose + 1, $"{device.Reads - readsAtClose} reads of a closed connection were run");
        Assert.Equal(0, server.GetStatistics().BytesInFlight);
        Assert.True(server.IsRunning);
    }

    [Fact]
    public async Task TheServerWideBudgetBoundsSeveralClientsThatNeverRead()
    {
        using var dir = new TempDirectory();
        string socket = dir.File("global.sock");
        CancellationToken ct = NbdPeers.Deadline();
        await using var device = new CountingDevice(1L << 30, asynchronous: true);
        var options = new NbdServerOptions
        {
            UnixSocketPath = socket,
            MaximumBytesInFlightPerConnection = 64 * MiB,
            MaximumBytesInFlight = 96 * MiB,
        };
        await using var server = new NbdServer(options, new NbdExport("", device));
        await server.StartAsync(ct);

        var clients = new List<NbdRawClient>();
        try
        {
            for (int c = 0; c < 4; c++)
            {
                NbdRawClient client = await NbdRawClient.ConnectAsync(socket, ct);
                clients.Add(client);
                byte[] burst = new byte[16 * 28];
                for (int i = 0; i < 16; i++)
                {
                    NbdRawClient.ReadRequest((ulong)i + 1, (ulong)i * ReadSize, ReadSize).CopyTo(burst, i * 28);
                }

                await client.SendAsync(burst, ct);
            }

            int seen = -1;
            var still = System.Diagnostics.Stopwatch.StartNew();
            while (still.Elapsed < TimeSpan.FromSeconds(1) || device.Reads == 0)
            {
                if (device.Reads != seen)
                {
                    seen = device.Reads;
                    still.Restart();
                }

                await Task.Delay(10, ct);
            }

            NbdServerStatistics held = server.GetStatistics();
            Assert.True(held.PeakBytesInFlight <= options.MaximumBytesInFlight, $"peak {held.PeakBytesInFlight / MiB} MiB in flight, budget 96 MiB");
            Assert.Equal(3, device.Reads); // 96 MiB: three 32 MiB reads, whichever clients got them
        }
        finally
        {
            foreach (NbdRawClient client in clients)
            {
                client.Dispose();
            }
        }

        while (server.ConnectionCount > 0)
        {
            await Task.Delay(10, ct);
        }

        Assert.Equal(0, server.GetStatistics().BytesInFlight);

        // With the hostile clients gone, the budget is free again for a client that reads its replies.
        using NbdRawClient polite = await NbdRawClient.ConnectAsync(socket, ct);
        await polite.SendAsync(NbdRawClient.ReadRequest(7, 0, ReadSize), ct);
        Assert.Equal(0u, await polite.ReceiveSimpleReplyAsync(7, ReadSize, ct));
    }

    private static long SettledHeap()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        return GC.GetTotalMemory(true);
    }

    /// <summary>A read-only device that stores nothing and counts the reads that reach it.</summary>
    private sealed class CountingDevice(long size, bool asynchronous)
        : BlockDevice(null, "counting", "test", new BlockDeviceInfo(512, size / 512, readOnly: true, BlockFeatures.None))
    {
        private int _reads;

        public int Reads => Volatile.Read(ref _reads);

        protected override ValueTask ReadCoreAsync(long offset, Memory<byte> buffer, CancellationToken cancellationToken)
        {
            Interlocked.Increment(ref _reads);
            return asynchronous ? CompleteLaterAsync() : default;
        }

        protected override ValueTask WriteCoreAsync(long offset, ReadOnlyMemory<byte> buffer, BlockWriteOptions options, CancellationToken cancellationToken) => default;

        private static async ValueTask CompleteLaterAsync() => await Task.Yield();
    }
}
