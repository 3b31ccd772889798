namespace VirtualDevices.Benchmarks.Ring;

/// <summary>
/// What one side of <c>ring-echo</c> did besides moving requests: notifies sent, turns of the spin on the ring, sleeps on
/// the event channel, and the context switches of its thread. Counts do not depend on how loaded the machine is the way rates do, so they compare
/// with ring-bench.c's over noise.
/// </summary>
internal sealed class EchoCounters
{
    public long Notifies;
    public long Waits;
    public long Spins;

    /// <summary>The calling thread's voluntary context switches so far (<c>/proc/thread-self/status</c>): its sleeps that really slept.</summary>
    public static long VoluntarySwitches()
    {
        foreach (string line in File.ReadLines("/proc/thread-self/status"))
        {
            if (line.StartsWith("voluntary_ctxt_switches:", StringComparison.Ordinal))
            {
                return long.Parse(line.AsSpan("voluntary_ctxt_switches:".Length).Trim(), System.Globalization.CultureInfo.InvariantCulture);
            }
        }

        return -1;
    }
}
