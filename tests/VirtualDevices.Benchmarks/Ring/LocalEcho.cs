using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using VirtualDevices.Xen.Rings;

namespace VirtualDevices.Benchmarks.Ring;

/// <summary>
/// ring-echo with both ends in one thread, a batch of each in turn (<c>ring-bench local</c> in C, whose back is kept out
/// of line so that the compiler cannot fold the two ends together): the cost of the ring code alone. Two processes on two cores add cache-line transfers and the scheduler, which move the rate 2-4x from run
/// to run; one thread on one page has neither, so this figure compares the two implementations within a few percent.
/// </summary>
internal static unsafe class LocalEcho
{
    /// <summary>Sends <paramref name="count"/> requests, at most <paramref name="inFlight"/> outstanding, through one page, checking each echo.</summary>
    /// <returns>Nanoseconds per round trip.</returns>
    public static double NanosecondsPerRoundTrip(int inFlight, long count)
    {
        void* page = NativeMemory.AlignedAlloc(4096, 4096);
        try
        {
            var front = new FrontRing<EchoMessage, EchoMessage>((nint)page, 4096, "local front");
            var back = new BackRing<EchoMessage, EchoMessage>((nint)page, 4096, "local back");
            long start = Stopwatch.GetTimestamp();
            Run(front, back, inFlight, (ulong)count);
            return Stopwatch.GetElapsedTime(start).TotalNanoseconds / count;
        }
        finally
        {
            NativeMemory.AlignedFree(page);
        }
    }

    // The same calls as the two processes' loops: the front writes through a source and checks through a sink, the
    // back copies a batch out and answers it whole.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Run(FrontRing<EchoMessage, EchoMessage> front, BackRing<EchoMessage, EchoMessage> back, int inFlight, ulong count)
    {
        var requests = new EchoRequests { Last = ulong.MaxValue };
        var check = new EchoCheck { Last = ulong.MaxValue };
        Span<EchoMessage> batch = stackalloc EchoMessage[back.Size];
        while (check.Consumed < count)
        {
            int room = (int)Math.Min(count - requests.NextId, (ulong)inFlight - (requests.NextId - check.Consumed));
            front.ProduceRequests(room, ref requests);
            front.PushRequests();
            int got = back.ConsumeRequests(batch);
            back.ProduceResponses(batch[..got]);
            back.PushResponses();
            front.ConsumeResponses(int.MaxValue, ref check);
        }
    }
}
