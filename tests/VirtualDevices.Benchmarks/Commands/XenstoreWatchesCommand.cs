using System.Diagnostics;
using System.Globalization;
using VirtualDevices.Xen.Xenstore.Client;
using VirtualDevices.Xen.Xenstore.Server;

namespace VirtualDevices.Benchmarks.Commands;

/// <summary>
/// <c>xenstore-watches [--count N]</c>: registers N watches on one connection to an embedded server, then removes
/// them, at N/4, N/2 and N, and prints the microseconds per watch of each. Linear registration and removal keep the
/// figure flat as N doubles; a scan per registration or removal (quadratic) doubles it. The last line is the ratio of
/// the per-watch cost at N to that at N/4 (about 1 when linear, about 4 when quadratic).
/// </summary>
internal static class XenstoreWatchesCommand
{
    public static async Task<int> RunAsync(string[] args)
    {
        var options = Arguments.Parse(args, options: ["--count"], flags: []);
        int count = options.Int("--count", 100_000);
        double first = 0;
        double last = 0;
        foreach (int n in new[] { count / 4, count / 2, count })
        {
            using var server = new XenstoreServer();
            await using XenstoreClient xs = XenstoreClient.ConnectInProcess(server, 0, new XenstoreClientOptions { WatchEventCapacity = 2 });
            var watches = new List<XenstoreWatch>(n);
            var clock = Stopwatch.StartNew();
            for (int i = 0; i < n; i++)
            {
                watches.Add(await xs.WatchAsync("/bench/watch/w" + i.ToString(CultureInfo.InvariantCulture)));
            }

            double register = clock.Elapsed.TotalMicroseconds / n;
            clock.Restart();
            foreach (XenstoreWatch watch in watches)
            {
                await watch.DisposeAsync();
            }

            double remove = clock.Elapsed.TotalMicroseconds / n;
            Console.WriteLine($"{n} watches on one connection: register {register:F1} us each, remove {remove:F1} us each");
            first = first == 0 ? register + remove : first;
            last = register + remove;
        }

        Console.WriteLine($"{last / first:F2} per-watch cost at {count} over that at {count / 4}");
        return 0;
    }
}
