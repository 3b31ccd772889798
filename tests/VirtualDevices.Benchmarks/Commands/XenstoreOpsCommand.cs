using System.Diagnostics;
using System.Globalization;
using System.Text;
using VirtualDevices.Xen.Xenstore;
using VirtualDevices.Xen.Xenstore.Client;

namespace VirtualDevices.Benchmarks.Commands;

/// <summary>
/// <c>xenstore-ops SOCKET [--count N] [--warmup N] [--mix RWD...] [--spin-us MICROSECONDS] [--async-continuations]</c>: our
/// client doing a fixed mix, one request at a time, against a xenstore socket; prints the process CPU time and the
/// bytes allocated per operation of the measured part, then operations per second on the last line.
/// <c>--async-continuations</c> opens the client as the PowerShell layer does (continuations on the thread pool). The mix, repeated every ten operations, is
/// R W R D R W R W R D (five reads of a 32-byte value, three writes, two listings of a 16-entry directory), the
/// same as the libxenstore client of scripts/xenstore-compare.sh.
/// </summary>
internal static class XenstoreOpsCommand
{
    internal const string Mix = "RWRDRWRWRD";

    public static async Task<int> RunAsync(string[] args)
    {
        var options = Arguments.Parse(args, options: ["--count", "--warmup", "--mix", "--spin-us"], flags: ["--async-continuations"]);
        string socketPath = options.Positional(0, "SOCKET");
        int count = options.Int("--count", 100_000);
        // Long enough for tiered compilation to settle, so the figure is the steady state.
        int warmup = options.Int("--warmup", 30_000);
        string mix = options.String("--mix") ?? Mix;
        var clientOptions = new XenstoreClientOptions { SocketPath = socketPath, RunContinuationsAsynchronously = options.Flag("--async-continuations") };
        if (options.String("--spin-us") is { } spin)
        {
            clientOptions = clientOptions with { SpinDuration = TimeSpan.FromMicroseconds(double.Parse(spin, CultureInfo.InvariantCulture)) };
        }

        await using XenstoreClient xs = await XenstoreClient.ConnectAsync(clientOptions);

        string[] keys = Enumerable.Range(0, 16).Select(i => "/bench/ops/k" + i.ToString("D2", CultureInfo.InvariantCulture)).ToArray();
        byte[] value = Encoding.ASCII.GetBytes(new string('v', 32));
        foreach (string key in keys)
        {
            await xs.WriteAsync(key, value);
        }

        await RunMixAsync(xs, keys, value, warmup, mix);
        using var process = Process.GetCurrentProcess();
        TimeSpan user = process.UserProcessorTime;
        TimeSpan system = process.PrivilegedProcessorTime;
        long allocated = GC.GetTotalAllocatedBytes(precise: true);
        var clock = Stopwatch.StartNew();
        await RunMixAsync(xs, keys, value, count, mix);
        clock.Stop();
        allocated = GC.GetTotalAllocatedBytes(precise: true) - allocated;
        process.Refresh();
        Console.WriteLine($"cpu per operation: user {(process.UserProcessorTime - user).TotalMicroseconds / count:F2} us, " +
            $"system {(process.PrivilegedProcessorTime - system).TotalMicroseconds / count:F2} us; allocated {(double)allocated / count:F1} bytes");
        Console.WriteLine($"{count} operations ({mix} mix) in {clock.Elapsed.TotalSeconds:F3} s, {clock.Elapsed.TotalMicroseconds / count:F1} us each");
        Console.WriteLine($"{count / clock.Elapsed.TotalSeconds:F0} ops/s");
        return 0;
    }

    private static async Task RunMixAsync(XenstoreClient xs, string[] keys, byte[] value, int count, string mix)
    {
        for (int i = 0; i < count; i++)
        {
            string key = keys[i & 15];
            switch (mix[i % mix.Length])
            {
                case 'R':
                    await xs.ReadAsync(key);
                    break;
                case 'W':
                    await xs.WriteAsync(key, value);
                    break;
                default:
                    await xs.ListAsync("/bench/ops");
                    break;
            }
        }
    }
}
