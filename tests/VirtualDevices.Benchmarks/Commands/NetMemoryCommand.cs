using System.Diagnostics;
using VirtualDevices.Network;

namespace VirtualDevices.Benchmarks.Commands;

/// <summary>
/// <c>net-memory [--count N] [--warmup N] [--size BYTES] [--window N]</c>: frames written at one end of a
/// <see cref="MemoryNetworkDevice"/> pair and received by a listener at the other, with at most <c>--window</c> frames in
/// flight (so the receive queue never overflows and nothing is dropped); prints the process CPU time and the bytes
/// allocated per frame of the measured part (CPU time is the steadier figure on a loaded machine), then frames per
/// second on the last line.
/// </summary>
internal static class NetMemoryCommand
{
    public static async Task<int> RunAsync(string[] args)
    {
        var options = Arguments.Parse(args, options: ["--count", "--warmup", "--size", "--window"]);
        int count = options.Int("--count", 1_000_000);
        // Long enough for tiered compilation to settle, so the figure is the steady state.
        int warmup = options.Int("--warmup", 200_000);
        int size = options.Int("--size", 64);
        int window = options.Int("--window", 128);
        var (a, b) = MemoryNetworkDevice.CreatePair(queueLength: window * 2);
        await using (a)
        await using (b)
        {
            byte[] frame = new byte[size];
            b.MacAddress.Write(frame);
            a.MacAddress.Write(frame.AsSpan(6));
            frame[12] = 0x88;
            frame[13] = 0xB5;
            var counter = new ReceiveCounter();
            using var stop = new CancellationTokenSource();
            Task listening = Task.Run(async () =>
            {
                try
                {
                    await b.ListenAsync(counter.OnFrame, stop.Token);
                }
                catch (OperationCanceledException)
                {
                }
            });

            await SendAsync(a, frame, counter, warmup, window);
            using var process = Process.GetCurrentProcess();
            TimeSpan cpu = process.TotalProcessorTime;
            long allocated = GC.GetTotalAllocatedBytes(precise: true);
            var clock = Stopwatch.StartNew();
            await SendAsync(a, frame, counter, count, window);
            clock.Stop();
            allocated = GC.GetTotalAllocatedBytes(precise: true) - allocated;
            process.Refresh();
            double cpuPerFrame = (process.TotalProcessorTime - cpu).TotalMicroseconds / count;
            await stop.CancelAsync();
            await listening;
            var stats = (VirtualDevices.Devices.NetworkStatistics)b.GetStatistics();
            Console.WriteLine($"{size}-byte frames: {count} in {clock.Elapsed.TotalSeconds:F3} s; cpu {cpuPerFrame:F2} us and allocated {(double)allocated / count:F1} bytes per frame; receiver drops {stats.RxDrops}");
            Console.WriteLine($"{count / clock.Elapsed.TotalSeconds:F0} frames/s");
        }

        return 0;
    }

    private static async Task SendAsync(MemoryNetworkDevice a, byte[] frame, ReceiveCounter counter, int count, int window)
    {
        long target = counter.Sent + count;
        while (counter.Sent < target)
        {
            if (counter.Sent - Volatile.Read(ref counter.Received) >= window)
            {
                await Task.Yield();
                continue;
            }

            await a.WriteAsync(frame);
            counter.Sent++;
        }

        while (Volatile.Read(ref counter.Received) < target)
        {
            await Task.Yield();
        }
    }

    private sealed class ReceiveCounter
    {
        public long Sent;
        public long Received;

        public ValueTask OnFrame(ReadOnlyMemory<byte> frame, CancellationToken cancellationToken)
        {
            Interlocked.Increment(ref Received);
            return default;
        }
    }
}
