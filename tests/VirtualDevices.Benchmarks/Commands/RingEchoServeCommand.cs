using System.Runtime.CompilerServices;
using System.Globalization;
using VirtualDevices.Benchmarks.Ring;
using VirtualDevices.Xen.Rings;

namespace VirtualDevices.Benchmarks.Commands;

/// <summary>
/// <c>ring-echo-serve SHM-PATH WAIT-FD NOTIFY-FD SPIN</c>: the back of <c>ring-echo</c>, started by it in a second
/// process: answers every request with its echo until the stop value, spinning briefly then sleeping on the eventfd
/// (the same loop as ring-bench.c's back). Prints the bytes it allocated per request.
/// </summary>
internal static class RingEchoServeCommand
{
    public static Task<int> RunAsync(string[] args)
    {
        var options = Arguments.Parse(args, options: []);
        string path = options.Positional(0, "SHM-PATH");
        using var wait = new BenchEventFd(int.Parse(options.Positional(1, "WAIT-FD"), CultureInfo.InvariantCulture));
        using var notify = new BenchEventFd(int.Parse(options.Positional(2, "NOTIFY-FD"), CultureInfo.InvariantCulture));
        int spin = int.Parse(options.Positional(3, "SPIN"), CultureInfo.InvariantCulture);
        using SharedPages pages = SharedPages.Open(path, 4096);
        var ring = new BackRing<EchoMessage, EchoMessage>(pages.Address, pages.Length, "ring-echo back");
        Console.WriteLine("ready");
        long allocated = GC.GetAllocatedBytesForCurrentThread();
        long served = Serve(ring, wait, notify, spin);
        allocated = GC.GetAllocatedBytesForCurrentThread() - allocated;
        Console.WriteLine($"served {served} allocated {allocated} waits {wait.Waits} notifications {notify.Notifications}");
        return Task.FromResult(0);
    }

    // Fully optimised from the first call: the loop runs once per measurement, so tiering would leave it in its
    // on-stack-replacement version; the ring's small methods inline into it either way.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static long Serve(BackRing<EchoMessage, EchoMessage> ring, BenchEventFd wait, BenchEventFd notify, int spin)
    {
        long served = 0;
        while (true)
        {
            bool made = false, stop = false;
            while (ring.TryConsumeRequest(out EchoMessage request))
            {
                ring.ProduceResponse(request);
                stop |= request.Value == EchoMessage.Stop;
                served++;
                made = true;
            }

            if (made)
            {
                if (ring.PushResponses())
                {
                    notify.Notify();
                }

                if (stop)
                {
                    return served;
                }

                continue;
            }

            bool more = ring.FinalCheckForRequests();
            for (int n = 0; !more && n < spin; n++)
            {
                CpuRelax.Once();
                more = ring.HasUnconsumedRequests;
            }

            if (!more)
            {
                wait.Wait();
            }
        }
    }
}
