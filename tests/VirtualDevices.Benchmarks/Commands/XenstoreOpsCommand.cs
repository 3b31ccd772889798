using System.Diagnostics;
using System.Globalization;
using System.Text;
using VirtualDevices.Xen.Xenstore;

namespace VirtualDevices.Benchmarks.Commands;

/// <summary>
/// <c>xenstore-ops SOCKET [--count N] [--warmup N] [--mix RWD...] [--spin-us MICROSECONDS]</c>: our client doing a fixed mix, one request at a time, against
/// a xenstore socket; prints operations per second on the last line. The mix, repeated every ten operations, is
/// R W R D R W R W R D (five reads of a 32-byte value, three writes, two listings of a 16-entry directory), the
/// same as the libxenstore client of scripts/xenstore-compare.sh.
/// </summary>
internal static class XenstoreOpsCommand
{
    internal const string Mix = "RWRDRWRWRD";

    public static async Task<int> RunAsync(string[] args)
    {
        var options = Arguments.Parse(args, options: ["--count", "--warmup", "--mix", "--spin-us"]);
        string socketPath = options.Positional(0, "SOCKET");
        int count = options.Int("--count", 100_000);
        int warmup = options.Int("--warmup", 10_000);
        string mix = options.String("--mix") ?? Mix;
        var clientOptions = new XenstoreClientOptions { SocketPath = socketPath };
        if (options.String("--spin-us") is { } spin)
        {
            clientOptions = new XenstoreClientOptions { SocketPath = socketPath, SpinDuration = TimeSpan.FromMicroseconds(double.Parse(spin, CultureInfo.InvariantCulture)) };
        }

        await using XenstoreClient xs = await XenstoreClient.ConnectAsync(clientOptions);

        string[] keys = Enumerable.Range(0, 16).Select(i => "/bench/ops/k" + i.ToString("D2", CultureInfo.InvariantCulture)).ToArray();
        byte[] value = Encoding.ASCII.GetBytes(new string('v', 32));
        foreach (string key in keys)
        {
            await xs.WriteAsync(key, value);
        }

        await RunMixAsync(xs, keys, value, warmup, mix);
        var clock = Stopwatch.StartNew();
        await RunMixAsync(xs, keys, value, count, mix);
        clock.Stop();
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
