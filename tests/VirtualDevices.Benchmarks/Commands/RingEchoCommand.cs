using System.Runtime.CompilerServices;
using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;
using VirtualDevices.Benchmarks.Ring;
using VirtualDevices.Xen.EventChannels;
using VirtualDevices.Xen.Grants;
using VirtualDevices.Xen.Loopback;
using VirtualDevices.Xen.Rings;

namespace VirtualDevices.Benchmarks.Commands;

/// <summary>
/// <c>ring-echo [--count N] [--count-1 N] [--spin S] [--repeat R] [--in-flight F] [--ours-only 1] [--pin 0|1] [--local-only 1]</c>: a request and its response through a Xen shared
/// ring between two processes over the loopback hypervisor, 1 and 32 requests in flight, round trips per second. Ours:
/// this process runs the hypervisor and is domain 0, the front; <c>ring-echo-serve</c> in a second process joins as
/// domain 1, the back. The front grants the ring page and allocates an unbound port, the back maps the grant and binds
/// the port (a memfd page and eventfds underneath), each side spinning S polls of the ring before it blocks on its
/// event channel. Beside it in the same
/// run the C figure: <c>ring-bench</c> (tests/c/xen-ring/ring-bench.c, compiled here with gcc against xen/io/ring.h), the
/// same loops in C over a memfd. Each figure is the best of R runs, C and ours alternating; the last line is our share
/// of C's round trips at 32 in flight.
/// </summary>
internal static partial class RingEchoCommand
{
    /// <summary>The domain id the back (<c>ring-echo-serve</c>) joins as; the front is domain 0.</summary>
    public const ushort BackDomain = 1;

    private static bool s_pin;

    public static async Task<int> RunAsync(string[] args)
    {
        var options = Arguments.Parse(args, options: ["--count", "--count-1", "--spin", "--repeat", "--in-flight", "--ours-only", "--pin", "--local-only"]);
        // 0: sized so that a run lasts about a second (a pilot run of C gives the rate): a run of 5 ms, which a fixed
        // 500,000 round trips became once both sides kept up (100 M/s), was decided by the one or two sleeps it happened
        // to contain.
        long count = options.Long("--count", 0);
        long countOne = options.Long("--count-1", 0);
        // By default each side spins about as long as waking an idle core costs (20 us here: ../shared/machine-facts.md),
        // the usual bound for spinning before blocking; a fixed count of 100 polls (2.8 us of pause on this EPYC) left
        // both C and ours flipping between spinning in step and sleeping in turn, runs 4x apart.
        int spin = options.Int("--spin", 0) is > 0 and int given ? given : CalibrateSpin(TimeSpan.FromMicroseconds(20));
        Console.WriteLine($"spin: {spin} polls of the ring before blocking");
        int repeat = options.Int("--repeat", 6); // even: as many rounds with C first as with ours first
        // --ours-only 1: no C run (to count our system calls under strace -f without the C processes' mixed in).
        bool oursOnly = options.Int("--ours-only", 0) != 0;

        // --pin 1 (the default on 2 CPUs or more): each side on its own CPU, the front on 0 and the back on 1, in C and
        // in ours alike. Unpinned, the scheduler sometimes put both sides on one core for part of a run, and a run's
        // rate then fell 2-7x whichever side was measured (C alone gave 20 M to 150 M round trips/s in one sitting).
        s_pin = options.Int("--pin", Environment.ProcessorCount >= 2 ? 1 : 0) != 0;
        Console.WriteLine(s_pin ? "pinned: the front on CPU 0, the back on CPU 1" : "not pinned");
        int[] inFlights = options.Int("--in-flight", 0) is > 0 and int only ? [only] : [1, 32];
        string bench = oursOnly ? "" : await CompileRingBenchAsync();
        double ratio32 = 0;
        if (options.Int("--local-only", 0) != 0)
        {
            // --local-only 1: only the one-thread figures (quick, and steady enough to compare changes to the ring code).
            bench = bench.Length > 0 ? bench : await CompileRingBenchAsync();
            foreach (int inFlight in inFlights)
            {
                await PrintLocalAsync(bench, inFlight);
            }

            return 0;
        }

        foreach (int inFlight in inFlights)
        {
            long n = inFlight == 1 ? countOne : count;
            if (n <= 0)
            {
                n = oursOnly ? 5_000_000 : await SizeRunAsync(bench, inFlight, spin, TimeSpan.FromSeconds(1));
                Console.WriteLine($"{inFlight,2} in flight: {n} round trips per run");
            }

            double c = 0, ours = 0;
            long allocatedFront = 0, allocatedBack = 0;
            var pairs = new List<double>();
            for (int r = 0; r < repeat; r++)
            {
                // C first in even rounds, ours first in odd ones: neither always runs after the other's load.
                double cRate = double.NaN;
                if (!oursOnly && r % 2 == 0)
                {
                    cRate = await RunCAsync(bench, inFlight, n, spin);
                }

                (double rate, long front, long back) = await RunOursAsync(inFlight, n, spin);
                if (!oursOnly && r % 2 == 1)
                {
                    cRate = await RunCAsync(bench, inFlight, n, spin);
                }

                c = Math.Max(c, cRate);
                ours = Math.Max(ours, rate);
                pairs.Add(rate / cRate);
                allocatedFront = Math.Max(allocatedFront, front);
                allocatedBack = Math.Max(allocatedBack, back);
            }

            // Best of R for each side, and the median of the ratios of runs made back to back: on a machine shared with
            // other builds the load moves between runs, and a pair sees about the same load (the best-of ratio
            // compares each side's luckiest moment, which may not be the same moment).
            pairs.Sort();
            double median = pairs.Count % 2 == 1 ? pairs[pairs.Count / 2] : (pairs[(pairs.Count / 2) - 1] + pairs[pairs.Count / 2]) / 2;
            double ratio = ours / c;
            Console.WriteLine($"{inFlight,2} in flight: ours {ours:F0} round trips/s, C {c:F0} round trips/s, ours/C {ratio:P0} (median of {repeat} back-to-back pairs {median:P0}); allocated per request: front {(double)allocatedFront / n:F3} B, back {(double)allocatedBack / n:F3} B");
            if (inFlight == 32)
            {
                ratio32 = ratio;
            }

            if (!oursOnly)
            {
                await PrintLocalAsync(bench, inFlight);
            }
        }

        Console.WriteLine($"ours/C at 32 in flight: {ratio32:P0}");
        return 0;
    }

    /// <summary>
    /// Both ends in one thread, ours and C (<c>ring-bench local</c>), best of 5 each, alternating: the cost of the ring code
    /// alone, without a second core's cache-line transfers and scheduling (see <see cref="LocalEcho"/>).
    /// </summary>
    private static async Task PrintLocalAsync(string bench, int inFlight)
    {
        const long Count = 20_000_000;
        LocalEcho.NanosecondsPerRoundTrip(inFlight, Count / 10); // warm up (the loop is optimised from the start; what it calls tiers up)
        double ours = double.MaxValue, c = double.MaxValue;
        for (int i = 0; i < 5; i++)
        {
            ours = Math.Min(ours, LocalEcho.NanosecondsPerRoundTrip(inFlight, Count));
            using var process = Process.Start(new ProcessStartInfo(bench, ["local", Str(inFlight), Str(Count)]) { RedirectStandardOutput = true })!;
            string output = await process.StandardOutput.ReadToEndAsync();
            await process.WaitForExitAsync();
            Match line = LocalLine().Match(output);
            if (process.ExitCode != 0 || !line.Success)
            {
                throw new InvalidOperationException($"ring-bench local failed ({process.ExitCode}): {output}");
            }

            c = Math.Min(c, double.Parse(line.Groups[1].Value, CultureInfo.InvariantCulture));
        }

        Console.WriteLine(FormattableString.Invariant($"{inFlight,2} in flight, both ends in one thread (the ring code alone): ours {ours:F2} ns, C {c:F2} ns per round trip, ours/C {c / ours:P0}"));
    }

    /// <summary>The round trips C makes in about <paramref name="span"/> (the best of 3 pilot runs), between 100,000 and 200 M.</summary>
    private static async Task<long> SizeRunAsync(string bench, int inFlight, int spin, TimeSpan span)
    {
        double rate = 0;
        for (int i = 0; i < 3; i++)
        {
            rate = Math.Max(rate, await RunCAsync(bench, inFlight, 200_000, spin, quiet: true));
        }

        return (long)Math.Clamp(rate * span.TotalSeconds, 100_000, 200_000_000);
    }

    /// <summary>How many polls (<see cref="CpuRelax"/> each) last <paramref name="span"/>: the fastest of 5 timings.</summary>
    private static int CalibrateSpin(TimeSpan span)
    {
        const int Polls = 200_000;
        double best = double.MaxValue;
        for (int round = 0; round < 5; round++)
        {
            long start = Stopwatch.GetTimestamp();
            for (int i = 0; i < Polls; i++)
            {
                CpuRelax.Once();
            }

            best = Math.Min(best, Stopwatch.GetElapsedTime(start).TotalNanoseconds / Polls);
        }

        return (int)Math.Clamp(span.TotalNanoseconds / best, 1, 1_000_000);
    }

    private static async Task<string> CompileRingBenchAsync()
    {
        string source = Path.Combine(AppContext.BaseDirectory, "c", "xen-ring", "ring-bench.c");
        string output = Path.Combine(Path.GetTempPath(), $"virtualdevices-ring-bench-{Environment.ProcessId}");
        using var gcc = Process.Start(new ProcessStartInfo("gcc", ["-O2", "-Wall", "-o", output, source]) { RedirectStandardError = true })!;
        string errors = await gcc.StandardError.ReadToEndAsync();
        await gcc.WaitForExitAsync();
        if (gcc.ExitCode != 0)
        {
            throw new InvalidOperationException($"gcc ring-bench.c failed: {errors}");
        }

        AppDomain.CurrentDomain.ProcessExit += (_, _) => File.Delete(output);
        return output;
    }

    private static async Task<double> RunCAsync(string bench, int inFlight, long count, int spin, bool quiet = false)
    {
        using var process = Process.Start(new ProcessStartInfo(bench, [Str(inFlight), Str(count), Str(spin), s_pin ? "1" : "0"]) { RedirectStandardOutput = true, RedirectStandardError = true })!;
        string output = await process.StandardOutput.ReadToEndAsync();
        string errors = await process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        if (!quiet)
        {
            Console.Error.WriteLine($"  C    {inFlight,2}: {output.Replace("\n", "; ", StringComparison.Ordinal).TrimEnd(' ', ';')}");
        }
        Match rate = RateLine().Match(output);
        if (process.ExitCode != 0 || !rate.Success)
        {
            throw new InvalidOperationException($"ring-bench failed ({process.ExitCode}): {errors}");
        }

        return double.Parse(rate.Groups[1].Value, CultureInfo.InvariantCulture);
    }

    private static async Task<(double Rate, long FrontAllocated, long BackAllocated)> RunOursAsync(int inFlight, long count, int spin)
    {
        string socket = Path.Combine(Path.GetTempPath(), $"virtualdevices-ring-echo-{Environment.ProcessId}-{Guid.NewGuid():N}.sock");
        LoopbackHypervisor hypervisor = LoopbackHypervisor.Start(socket);
        try
        {
            // As a split driver sets up a ring: the front grants the page and allocates an unbound port for the back's
            // domain; the back (the child, joining as that domain) maps the grant and binds the port.
            using LoopbackDomain dom0 = hypervisor.JoinInProcess(0);
            using IGrantedPages pages = dom0.Grant(BackDomain, 1, GrantAccess.ReadWrite);
            var ring = new FrontRing<EchoMessage, EchoMessage>(pages.Memory, "ring-echo front");
            using IEventChannel channel = dom0.AllocateUnbound(BackDomain);
            string self = Environment.ProcessPath!;
            string[] prefix = Path.GetFileNameWithoutExtension(self) == "dotnet" ? [typeof(RingEchoCommand).Assembly.Location] : [];
            var start = new ProcessStartInfo(self, [.. prefix, "ring-echo-serve", socket, Str(channel.Port), Str(pages.References[0]), Str(spin), s_pin ? "1" : "0"])
            {
                RedirectStandardOutput = true,
            };
            using var child = Process.Start(start)!;
            try
            {
                if (await child.StandardOutput.ReadLineAsync() != "ready")
                {
                    throw new InvalidOperationException("ring-echo-serve did not start");
                }

                // Warm up both sides, then measure; the last request stops the back. At least half a second of it: the
                // loops are optimised from the start, but what they call (the channel's notify and wait) tiers up on
                // background JIT threads after 100 ms and 30 calls, and a warm-up of a tenth of the run (20 ms at
                // 32 in flight) left that compilation running during the measurement, on the 2 cores it shares.
                if (s_pin && !ThreadAffinity.PinCurrentThread(0))
                {
                    Console.Error.WriteLine("  could not pin the front to CPU 0: running unpinned");
                }

                var counters = new EchoCounters();
                var warm = Stopwatch.StartNew();
                ulong next = 0;
                do
                {
                    next = Run(ring, next, (ulong)Math.Max(count / 10, 1000), inFlight, channel, spin, stop: false, counters);
                }
                while (warm.ElapsedMilliseconds < 500);
                counters = new EchoCounters();
                long switches = EchoCounters.VoluntarySwitches();
                long allocated = GC.GetAllocatedBytesForCurrentThread();
                var clock = Stopwatch.StartNew();
                Run(ring, next, (ulong)count, inFlight, channel, spin, stop: true, counters);
                clock.Stop();
                allocated = GC.GetAllocatedBytesForCurrentThread() - allocated;
                switches = EchoCounters.VoluntarySwitches() - switches; // reading /proc allocates: outside the window
                string rest = await child.StandardOutput.ReadToEndAsync();
                await child.WaitForExitAsync();
                Match served = ServedLine().Match(rest);
                if (child.ExitCode != 0 || !served.Success)
                {
                    throw new InvalidOperationException($"ring-echo-serve failed ({child.ExitCode}): {rest}");
                }

                Console.Error.WriteLine(FormattableString.Invariant(
                    $"  ours {inFlight,2}: {count / clock.Elapsed.TotalSeconds:F0} round trips/s; front: {counters.Waits} sleeps, {counters.Notifies} notifications, {switches} switches, {counters.Spins} spins; back: {rest.Trim()}"));
                return (count / clock.Elapsed.TotalSeconds, allocated, long.Parse(served.Groups[1].Value, CultureInfo.InvariantCulture));
            }
            finally
            {
                if (!child.HasExited)
                {
                    child.Kill();
                    await child.WaitForExitAsync();
                }
            }
        }
        finally
        {
            await hypervisor.DisposeAsync();
        }
    }

    /// <summary>
    /// Sends <paramref name="count"/> requests numbered from <paramref name="first"/> with at most
    /// <paramref name="inFlight"/> outstanding (and, with <paramref name="stop"/>, one more that stops the back), checking
    /// each echo; ring-bench.c's front, a batch at a time (the ring's batch calls: see <c>ConsumeResponses</c>).
    /// </summary>
    // Fully optimised from the first call: the loop runs once per measurement, so tiering would leave it in its
    // on-stack-replacement version; the ring's small methods inline into it either way.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static ulong Run(FrontRing<EchoMessage, EchoMessage> ring, ulong first, ulong count, int inFlight, IEventChannel channel, int spin, bool stop, EchoCounters counters)
    {
        ulong total = first + count + (stop ? 1UL : 0UL);
        ulong last = first + count;
        var requests = new EchoRequests { NextId = first, Last = last, Stopping = stop };
        var check = new EchoCheck { Consumed = first, Last = last, Stopping = stop };
        while (check.Consumed < total)
        {
            // Requests are written straight into the ring and responses checked as they are copied out (the ring's
            // batch calls with a struct source and sink: no staging copy, no call per entry).
            int room = (int)Math.Min(total - requests.NextId, (ulong)inFlight - (requests.NextId - check.Consumed));
            int made = ring.ProduceRequests(room, ref requests);
            if (made > 0 && ring.PushRequests())
            {
                counters.Notifies++;
                channel.Notify();
            }

            // One read of rsp_prod per batch, as ring-bench.c's loop (a second read per batch costs a cache miss on
            // the line the back keeps writing).
            int got = ring.ConsumeResponses(int.MaxValue, ref check);
            if (made == 0 && got == 0)
            {
                // Poll the ring without asking for an event, and ask (the final check) only before sleeping: asking while
                // spinning made the other side notify, a system call on its path, once every 2 batches at 32 in flight.
                bool more = false;
                for (int n = 0; !more && n < spin; n++)
                {
                    CpuRelax.Once();
                    counters.Spins++;
                    more = ring.HasUnconsumedResponses;
                }

                more = more || ring.FinalCheckForResponses();
                if (!more)
                {
                    // The spin on the ring was the spin: the channel only blocks (poll, then read, as ring-bench.c).
                    counters.Waits++;
                    if (channel.WaitBlocking(10_000) == 0)
                    {
                        throw new TimeoutException("ring-echo: no response within 10 s");
                    }
                }
            }
        }

        return check.Consumed;
    }

    private static string Str(long value) => value.ToString(CultureInfo.InvariantCulture);

    [GeneratedRegex(@"^(\d+) round trips/s$", RegexOptions.Multiline)]
    private static partial Regex RateLine();

    [GeneratedRegex(@"^([0-9.]+) ns per round trip$", RegexOptions.Multiline)]
    private static partial Regex LocalLine();

    [GeneratedRegex(@"allocated (\d+)")]
    private static partial Regex ServedLine();
}
