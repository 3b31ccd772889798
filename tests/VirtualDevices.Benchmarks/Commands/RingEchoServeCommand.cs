using System.Runtime.CompilerServices;
using System.Globalization;
using VirtualDevices.Benchmarks.Ring;
using VirtualDevices.Xen.EventChannels;
using VirtualDevices.Xen.Grants;
using VirtualDevices.Xen.Loopback;
using VirtualDevices.Xen.Rings;

namespace VirtualDevices.Benchmarks.Commands;

/// <summary>
/// <c>ring-echo-serve SOCKET PORT REF SPIN [PIN]</c>: the back of <c>ring-echo</c>, started by it in a second process: joins
/// the loopback hypervisor at SOCKET as domain <see cref="RingEchoCommand.BackDomain"/>, maps domain 0's ring grant REF
/// and binds its port PORT, then answers every request with its echo until the stop value, spinning SPIN polls of the
/// ring before it sleeps on the channel (the same loop as ring-bench.c's back), on CPU 1 with PIN 1. Prints the bytes it allocated, its
/// sleeps, notifies and voluntary context switches.
/// </summary>
internal static class RingEchoServeCommand
{
    public static Task<int> RunAsync(string[] args)
    {
        var options = Arguments.Parse(args, options: []);
        string socket = options.Positional(0, "SOCKET");
        uint port = uint.Parse(options.Positional(1, "PORT"), CultureInfo.InvariantCulture);
        uint reference = uint.Parse(options.Positional(2, "REF"), CultureInfo.InvariantCulture);
        int spin = int.Parse(options.Positional(3, "SPIN"), CultureInfo.InvariantCulture);
        if (options.OptionalPositional(4) == "1" && !ThreadAffinity.PinCurrentThread(1))
        {
            Console.Error.WriteLine("ring-echo-serve: could not pin to CPU 1: running unpinned");
        }

        using LoopbackDomain domain = LoopbackDomain.Join(socket, RingEchoCommand.BackDomain);
        using IMappedGrants pages = domain.Map(0, [reference], GrantAccess.ReadWrite);
        using IEventChannel channel = domain.BindInterdomain(0, port);
        var ring = new BackRing<EchoMessage, EchoMessage>(pages.Memory, "ring-echo back");
        var counters = new EchoCounters();
        Console.WriteLine("ready");
        long switches = EchoCounters.VoluntarySwitches();
        long allocated = GC.GetAllocatedBytesForCurrentThread();
        long served = Serve(ring, channel, spin, counters);
        allocated = GC.GetAllocatedBytesForCurrentThread() - allocated;
        switches = EchoCounters.VoluntarySwitches() - switches; // reading /proc allocates: outside the window
        Console.WriteLine($"served {served} allocated {allocated} waits {counters.Waits} notifications {counters.Notifies} switches {switches} spins {counters.Spins}");
        return Task.FromResult(0);
    }

    // Fully optimised from the first call: the loop runs once per measurement, so tiering would leave it in its
    // on-stack-replacement version; the ring's small methods inline into it either way.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static long Serve(BackRing<EchoMessage, EchoMessage> ring, IEventChannel channel, int spin, EchoCounters counters)
    {
        long served = 0;
        Span<EchoMessage> batch = stackalloc EchoMessage[ring.Size];
        while (true)
        {
            // One read of req_prod per batch, as ring-bench.c's loop; the batch is copied out whole, then answered
            // whole. Answering each request in place as it was copied out (a ring call that did both in one pass) was
            // slower on two cores, 62-68% of C against 86-91% alternated in one sitting: the whole-batch copy fetches
            // the batch's lines together before it writes any, the one pass moved each line twice in turn.
            int got = ring.ConsumeRequests(batch);
            if (got > 0)
            {
                // The stop request is the last the front sends: only a batch's last request can be it.
                bool stop = batch[got - 1].Value == EchoMessage.Stop;
                ring.ProduceResponses(batch[..got]);
                served += got;
                if (ring.PushResponses())
                {
                    counters.Notifies++;
                    channel.Notify();
                }

                if (stop)
                {
                    return served;
                }

                continue;
            }

            // Poll the ring without asking for an event, and ask (the final check) only before sleeping: asking while
            // spinning made the other side notify, a system call on its path, once every 2 batches at 32 in flight.
            bool more = false;
            for (int n = 0; !more && n < spin; n++)
            {
                CpuRelax.Once();
                counters.Spins++;
                more = ring.HasUnconsumedRequests;
            }

            more = more || ring.FinalCheckForRequests();
            if (!more)
            {
                // The spin on the ring was the spin: the channel only blocks (poll, then read, as ring-bench.c).
                counters.Waits++;
                if (channel.WaitBlocking(10_000) == 0)
                {
                    throw new TimeoutException("ring-echo-serve: no request within 10 s");
                }
            }
        }
    }
}
