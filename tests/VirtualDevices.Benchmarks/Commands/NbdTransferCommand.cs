using System.Diagnostics;
using VirtualDevices.Nbd.Client;

namespace VirtualDevices.Benchmarks.Commands;

/// <summary>
/// <c>nbd-read URI</c> and <c>nbd-write URI</c> <c>[--connections N] [--requests N] [--size BYTES] [--warmup BYTES] [--inline-completions]</c>:
/// transfers the whole export sequentially with N requests in flight per connection (as nbdcopy counts them), prints
/// MB/s. <c>--inline-completions</c> sets <see cref="NbdClientOptions.UnsafeInlineCompletions"/>.
/// </summary>
internal static class NbdTransferCommand
{
    public static Task<int> ReadAsync(string[] args) => RunAsync(args, write: false);

    public static Task<int> WriteAsync(string[] args) => RunAsync(args, write: true);

    private static async Task<int> RunAsync(string[] args, bool write)
    {
        var options = Arguments.Parse(args, options: ["--connections", "--requests", "--size", "--warmup"], flags: ["--inline-completions"]);
        string uri = options.Positional(0, "URI");
        int connections = options.Int("--connections", 1);
        int requests = options.Int("--requests", 16);
        int size = options.Int("--size", 256 * 1024);
        NbdClientOptions clientOptions = NbdUri.Parse(uri) with
        {
            Connections = connections,

            // Safe here: the workers' continuations only queue their next request.
            UnsafeInlineCompletions = options.Flag("--inline-completions"),
        };
        await using NbdBlockDevice device = await NbdClient.ConnectAsync(clientOptions);
        int sectorSize = device.Info.SectorSize;
        int chunkSectors = Math.Max(1, size / sectorSize);
        long total = device.Info.SectorCount;
        long next = 0;
        long end = total;
        int workers = requests * device.ConnectionCount;

        // One buffer per worker, made once (not per phase) and filled once, with the fast unseeded generator: the
        // figure measures the transfer, not the benchmark's own setup.
        byte[][] buffers = new byte[workers][];
        for (int i = 0; i < workers; i++)
        {
            buffers[i] = GC.AllocateUninitializedArray<byte>(chunkSectors * sectorSize, pinned: true);
            if (write)
            {
                Random.Shared.NextBytes(buffers[i]);
            }
        }

        async Task WorkerAsync(int worker)
        {
            byte[] buffer = buffers[worker];
            while (true)
            {
                long sector = Interlocked.Add(ref next, chunkSectors) - chunkSectors;
                if (sector >= end)
                {
                    return;
                }

                int n = (int)Math.Min(chunkSectors, end - sector);
                if (write)
                {
                    await device.WriteAsync(sector, buffer.AsMemory(0, n * sectorSize)).ConfigureAwait(false);
                }
                else
                {
                    await device.ReadAsync(sector, buffer.AsMemory(0, n * sectorSize)).ConfigureAwait(false);
                }
            }
        }

        // Warm-up (untimed): the first 64 MiB once, so that the figure measures the transfer, not the JIT.
        // --warmup 0 skips it, for timing the whole process the way nbdcopy's is timed (exactly one pass).
        end = Math.Min(total, options.Long("--warmup", 64L << 20) / sectorSize);
        if (end > 0)
        {
            await Task.WhenAll(Enumerable.Range(0, workers).Select(i => Task.Run(() => WorkerAsync(i))));
        }

        next = 0;
        end = total;
        long allocatedBefore = GC.GetTotalAllocatedBytes(precise: true);
        int collectionsBefore = GC.CollectionCount(0);
        TimeSpan cpuBefore = Process.GetCurrentProcess().TotalProcessorTime;
        var clock = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, workers).Select(i => Task.Run(() => WorkerAsync(i))));
        if (write && device.Info.Supports(Block.BlockFeatures.Flush))
        {
            await device.FlushAsync();
        }

        clock.Stop();
        TimeSpan cpu = Process.GetCurrentProcess().TotalProcessorTime - cpuBefore;
        long allocated = GC.GetTotalAllocatedBytes(precise: true) - allocatedBefore;
        int collections = GC.CollectionCount(0) - collectionsBefore;
        long requestCount = (total + chunkSectors - 1) / chunkSectors;
        long bytes = device.Info.SizeBytes;
        Console.WriteLine($"{(write ? "wrote" : "read")} {bytes} bytes in {clock.Elapsed.TotalSeconds:F3} s over {device.ConnectionCount} connection(s), "
            + $"{requests} requests in flight each, {chunkSectors * sectorSize} bytes per request");
        Console.WriteLine($"process CPU {cpu.TotalSeconds:F3} s ({cpu.TotalSeconds / (bytes / (double)(1L << 30)):F3} s per GiB), "
            + $"{allocated / (double)requestCount:F0} bytes allocated per request, {collections} gen0 collections");
        Console.WriteLine($"{bytes / 1e6 / clock.Elapsed.TotalSeconds:F1} MB/s");
        return 0;
    }
}
