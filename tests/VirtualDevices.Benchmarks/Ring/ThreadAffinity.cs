using System.Runtime.InteropServices;

namespace VirtualDevices.Benchmarks.Ring;

/// <summary>
/// Pins the calling thread to one CPU (<c>sched_setaffinity(0, ...)</c>, which on Linux acts on the calling thread, not
/// the process), as ring-bench.c pins its two processes: each side of ring-echo then keeps its own core.
/// </summary>
internal static partial class ThreadAffinity
{
    /// <summary>Pins the calling thread to <paramref name="cpu"/> (0-63).</summary>
    /// <returns>False when the kernel refused (the CPU is offline or not allowed to this process): the thread runs unpinned.</returns>
    public static unsafe bool PinCurrentThread(int cpu)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThan((uint)cpu, 63u, nameof(cpu));

        // A cpu_set_t's first word: bit N is CPU N. The kernel takes a mask shorter than its own and treats the rest as 0.
        ulong mask = 1UL << cpu;
        return SchedSetAffinity(0, sizeof(ulong), &mask) == 0;
    }

    [LibraryImport("libc", EntryPoint = "sched_setaffinity", SetLastError = true)]
    private static unsafe partial int SchedSetAffinity(int pid, nuint size, ulong* mask);
}
