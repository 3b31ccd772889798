using VirtualDevices.Xen.Rings;

namespace VirtualDevices.Tests.Xen.Rings;

/// <summary>The payload functions of one ring type (see <see cref="RingPayloads"/>).</summary>
internal interface IRingPayload<TRequest, TResponse>
    where TRequest : unmanaged
    where TResponse : unmanaged
{
    static abstract TRequest Make(ulong i);

    static abstract void CheckRequest(in TRequest request, ulong i);

    static abstract TResponse Answer(in TRequest request, ulong i);

    static abstract void CheckResponse(in TResponse response, ulong i);
}

internal readonly struct BlkifPayload : IRingPayload<BlkifRequest, BlkifResponse>
{
    public static BlkifRequest Make(ulong i) => RingPayloads.Blkif(i);

    public static void CheckRequest(in BlkifRequest request, ulong i) => RingPayloads.CheckBlkif(request, i);

    public static BlkifResponse Answer(in BlkifRequest request, ulong i) => RingPayloads.BlkifAnswer(request, i);

    public static void CheckResponse(in BlkifResponse response, ulong i) => RingPayloads.CheckBlkifResponse(response, i);
}

internal readonly struct TxPayload : IRingPayload<NetifTxRequest, NetifTxResponse>
{
    public static NetifTxRequest Make(ulong i) => RingPayloads.Tx(i);

    public static void CheckRequest(in NetifTxRequest request, ulong i) => RingPayloads.CheckTx(request, i);

    public static NetifTxResponse Answer(in NetifTxRequest request, ulong i) => RingPayloads.TxAnswer(request, i);

    public static void CheckResponse(in NetifTxResponse response, ulong i) => RingPayloads.CheckTxResponse(response, i);
}

/// <summary>
/// Our ends of the byte compatibility test, the same loops as the C peer's: produce a batch, push with the notify
/// check, consume, and before sleeping the final check (then a short spin, then the eventfd).
/// </summary>
internal static class RingDrivers
{
    public static void RunFront<TRequest, TResponse, TPayload>(FrontRing<TRequest, TResponse> ring, ulong count, ulong inFlight, RingEventFd notify, RingEventFd wait, int spin = 100)
        where TRequest : unmanaged
        where TResponse : unmanaged
        where TPayload : IRingPayload<TRequest, TResponse>
    {
        ulong produced = 0, consumed = 0;
        while (consumed < count)
        {
            bool made = false, got = false;
            while (produced < count && produced - consumed < inFlight && ring.TryProduceRequest(TPayload.Make(produced)))
            {
                produced++;
                made = true;
            }

            if (made && ring.PushRequests())
            {
                notify.Notify();
            }

            while (ring.TryConsumeResponse(out TResponse response))
            {
                TPayload.CheckResponse(response, consumed);
                consumed++;
                got = true;
            }

            if (!made && !got && !ring.FinalCheckForResponses() && !Spin(spin, ring.FinalCheckForResponses))
            {
                wait.Wait();
            }
        }
    }

    public static void RunBack<TRequest, TResponse, TPayload>(BackRing<TRequest, TResponse> ring, ulong count, RingEventFd notify, RingEventFd wait, int spin = 100)
        where TRequest : unmanaged
        where TResponse : unmanaged
        where TPayload : IRingPayload<TRequest, TResponse>
    {
        ulong served = 0;
        while (served < count)
        {
            bool made = false;
            while (ring.TryConsumeRequest(out TRequest request))
            {
                TPayload.CheckRequest(request, served);
                ring.ProduceResponse(TPayload.Answer(request, served));
                served++;
                made = true;
            }

            if (made)
            {
                if (ring.PushResponses())
                {
                    notify.Notify();
                }
            }
            else if (!ring.FinalCheckForRequests() && !Spin(spin, ring.FinalCheckForRequests))
            {
                wait.Wait();
            }
        }
    }

    private static bool Spin(int spins, Func<bool> check)
    {
        for (int i = 0; i < spins; i++)
        {
            if (check())
            {
                return true;
            }

            Thread.SpinWait(1);
        }

        return false;
    }
}
