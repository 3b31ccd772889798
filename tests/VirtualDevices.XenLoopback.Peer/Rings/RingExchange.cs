// The two ends of the multi-process ring exchange over the loopback hypervisor, shared by the peer program (its
// ring-front and ring-back roles) and the xunit tests (tests/VirtualDevices.Core.Tests/Xen/Loopback/LoopbackRingTests.cs,
// which compile this file in), so each process runs the same loops whichever end it plays.
//
// A blkif ring: the front sends `count` requests numbered 0..count-1 through a TrackedFrontRing (ids from the core's
// request table), at most `inFlight` outstanding; every field of a request is a function of its sequence number (the
// sector number carries it). The back checks every field, that every sequence number comes exactly once, and answers
// with a status that is a function of the sequence number and the id the request carried; the front checks the
// response its id was matched to against the sequence number it sent. Both ends sleep on the event channel after
// ring.h's final check.
using System.Diagnostics;
using VirtualDevices.Xen.EventChannels;
using VirtualDevices.Xen.Rings;

namespace VirtualDevices.XenLoopback.Peer.Rings;

/// <summary>What one end of the exchange did: requests, notifies sent, sleeps on the channel, and how long it took.</summary>
internal readonly record struct RingExchangeStats(ulong Requests, long Notifies, long Waits, TimeSpan Elapsed)
{
    /// <summary>One line: <c>requests N notifies N waits N ms N</c>.</summary>
    public override string ToString() => FormattableString.Invariant($"requests {Requests} notifies {Notifies} waits {Waits} ms {(long)Elapsed.TotalMilliseconds}");
}

/// <summary>The front and back loops of the exchange and the payload both check.</summary>
internal static class RingExchange
{
    /// <summary>How long either end waits for the other before it gives up (the other end died or hung).</summary>
    public const int WaitMilliseconds = 30_000;

    /// <summary>The request with sequence number <paramref name="sequence"/> (its id is the table's, set at send).</summary>
    public static BlkifRequest Request(ulong sequence)
    {
        var request = new BlkifRequest
        {
            Operation = (byte)(sequence % 3 == 0 ? BlkifRequest.OperationWrite : BlkifRequest.OperationRead),
            SegmentCount = (byte)(1 + (sequence % BlkifRequest.MaxSegments)),
            Handle = (ushort)(sequence * 7),
            SectorNumber = sequence,
        };
        for (int k = 0; k < request.SegmentCount; k++)
        {
            request.Segments[k] = new BlkifRequestSegment
            {
                Gref = (uint)((sequence * 2654435761UL) + (ulong)k),
                FirstSector = (byte)k,
                LastSector = (byte)(7 - (k % 8)),
            };
        }

        return request;
    }

    /// <summary>The status the back answers request <paramref name="sequence"/> carrying <paramref name="id"/> with.</summary>
    public static short Status(ulong sequence, ulong id) => (short)(((sequence * 40503UL) ^ id ^ (id >> 16)) & 0x7FFF);

    /// <summary>
    /// Checks a request copied off the ring against its sequence number (its sector number), every field, and that
    /// <paramref name="count"/> bounds it.
    /// </summary>
    /// <returns>Its sequence number.</returns>
    /// <exception cref="InvalidDataException">A field is not what the front wrote.</exception>
    public static ulong CheckRequest(in BlkifRequest request, ulong count)
    {
        ulong sequence = request.SectorNumber;
        if (sequence >= count)
        {
            throw new InvalidDataException($"a request carries sequence number {sequence}, past the {count} sent");
        }

        BlkifRequest want = Request(sequence);
        if (request.Operation != want.Operation || request.SegmentCount != want.SegmentCount || request.Handle != want.Handle)
        {
            throw new InvalidDataException($"request {sequence}: operation {request.Operation}, nr_segments {request.SegmentCount}, handle {request.Handle}; want {want.Operation}, {want.SegmentCount}, {want.Handle}");
        }

        for (int k = 0; k < BlkifRequest.MaxSegments; k++)
        {
            BlkifRequestSegment got = request.Segments[k], expected = want.Segments[k];
            if (got.Gref != expected.Gref || got.FirstSector != expected.FirstSector || got.LastSector != expected.LastSector)
            {
                throw new InvalidDataException($"request {sequence}: segment {k} is gref {got.Gref} sectors {got.FirstSector}-{got.LastSector}; want {expected.Gref} {expected.FirstSector}-{expected.LastSector}");
            }
        }

        return sequence;
    }

    /// <summary>Checks the response the front's table matched to request <paramref name="sequence"/>.</summary>
    /// <exception cref="InvalidDataException">It answers another request.</exception>
    public static void CheckResponse(in BlkifResponse response, ulong sequence)
    {
        BlkifRequest want = Request(sequence);
        if (response.Operation != want.Operation || response.Status != Status(sequence, response.Id))
        {
            throw new InvalidDataException($"the response matched to request {sequence} (id {response.Id}) has operation {response.Operation} and status {response.Status}; want {want.Operation} and {Status(sequence, response.Id)}");
        }
    }

    /// <summary>
    /// The front: <paramref name="inFlight"/> senders share the sequence numbers and await each response through the
    /// tracked ring; a pump thread consumes responses and sleeps on the channel after the final check.
    /// </summary>
    /// <exception cref="InvalidDataException">A response was wrong.</exception>
    /// <exception cref="TimeoutException">The back went quiet for <see cref="WaitMilliseconds"/>.</exception>
    public static async Task<RingExchangeStats> RunFrontAsync(FrontRing<BlkifRequest, BlkifResponse> ring, IEventChannel channel, ulong count, int inFlight)
    {
        long notifies = 0, waits = 0;
        var tracked = new TrackedFrontRing<BlkifRequest, BlkifResponse>(ring, idBits: 64,
            static (ref BlkifRequest request, ulong id) => request.Id = id,
            static (in BlkifResponse response) => response.Id,
            () =>
            {
                Interlocked.Increment(ref notifies);
                channel.Notify();
            });
        using var failed = new CancellationTokenSource();
        var clock = Stopwatch.StartNew();
        Task pump = Task.Factory.StartNew(() =>
        {
            ulong consumed = 0;
            while (consumed < count)
            {
                consumed += (ulong)tracked.ProcessResponses();
                if (consumed == count || tracked.FinalCheckForResponses())
                {
                    continue;
                }

                waits++;
                if (channel.Wait(WaitMilliseconds, failed.Token) == 0)
                {
                    throw new TimeoutException($"no response for {WaitMilliseconds} ms after {consumed} of {count}");
                }
            }
        }, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);

        long next = -1;
        var senders = new Task[inFlight];
        for (int s = 0; s < inFlight; s++)
        {
            senders[s] = Task.Run(async () =>
            {
                try
                {
                    ulong sequence;
                    while ((sequence = (ulong)Interlocked.Increment(ref next)) < count)
                    {
                        BlkifResponse response = await tracked.SendAsync(Request(sequence)).ConfigureAwait(false);
                        CheckResponse(response, sequence);
                    }
                }
                catch
                {
                    failed.Cancel(); // the pump stops waiting for responses that will not come
                    throw;
                }
            });
        }

        // A pump that failed (a broken ring fails the senders too; a timeout would not) ends the wait at once.
        Task all = Task.WhenAll(senders);
        if (await Task.WhenAny(all, pump).ConfigureAwait(false) == pump && pump.IsFaulted)
        {
            await pump.ConfigureAwait(false);
        }

        await all.ConfigureAwait(false);
        await pump.ConfigureAwait(false);
        return new RingExchangeStats(count, Interlocked.Read(ref notifies), waits, clock.Elapsed);
    }

    /// <summary>
    /// The back: answers <paramref name="count"/> requests in batches, checking every one and that every sequence
    /// number comes once, notifying when the front asked, and sleeping on the channel after the final check.
    /// </summary>
    /// <exception cref="InvalidDataException">A request was wrong, or came twice.</exception>
    /// <exception cref="TimeoutException">The front went quiet for <see cref="WaitMilliseconds"/>.</exception>
    public static RingExchangeStats RunBack(BackRing<BlkifRequest, BlkifResponse> ring, IEventChannel channel, ulong count)
    {
        ulong[] seen = new ulong[(count + 63) / 64];
        ulong served = 0;
        long notifies = 0, waits = 0;
        var clock = Stopwatch.StartNew();
        while (served < count)
        {
            bool made = false;
            while (ring.TryConsumeRequest(out BlkifRequest request))
            {
                ulong sequence = CheckRequest(request, count);
                ulong bit = 1UL << (int)(sequence % 64);
                if ((seen[sequence / 64] & bit) != 0)
                {
                    throw new InvalidDataException($"request {sequence} came twice");
                }

                seen[sequence / 64] |= bit;
                ring.ProduceResponse(new BlkifResponse { Id = request.Id, Operation = request.Operation, Status = Status(sequence, request.Id) });
                served++;
                made = true;
            }

            if (made)
            {
                if (ring.PushResponses())
                {
                    notifies++;
                    channel.Notify();
                }

                continue;
            }

            if (ring.FinalCheckForRequests())
            {
                continue;
            }

            waits++;
            if (channel.Wait(WaitMilliseconds) == 0)
            {
                throw new TimeoutException($"no request for {WaitMilliseconds} ms after {served} of {count}");
            }
        }

        // served == count and no number came twice, so every one came; the ring holds nothing more.
        if (ring.HasUnconsumedRequests)
        {
            throw new InvalidDataException($"more than the {count} requests sent are on the ring");
        }

        return new RingExchangeStats(served, notifies, waits, clock.Elapsed);
    }
}
