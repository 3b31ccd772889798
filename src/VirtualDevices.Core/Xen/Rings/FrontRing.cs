using System.Runtime.CompilerServices;

namespace VirtualDevices.Xen.Rings;

/// <summary>
/// The frontend half of a shared ring (<c>struct X_front_ring</c>): produces requests, consumes responses.
/// </summary>
/// <remarks>
/// <para>
/// Produce a batch with <see cref="TryProduceRequest"/>, publish it with <see cref="PushRequests"/> (which says
/// whether the backend asked to be notified: <c>RING_PUSH_REQUESTS_AND_CHECK_NOTIFY</c>), take responses with
/// <see cref="TryConsumeResponse"/>, and before sleeping call <see cref="FinalCheckForResponses"/>
/// (<c>RING_FINAL_CHECK_FOR_RESPONSES</c>): it asks for a notification at the next response and says whether one
/// slipped in meanwhile.
/// </para>
/// <para>
/// The barriers of ring.h, and why the .NET ones suffice on x86-64 and arm64:
/// <list type="bullet">
/// <item><c>xen_wmb</c> before publishing <c>req_prod</c>: a <c>Volatile.Write</c> of the index
/// (a release store). On x86-64 stores are not reordered with earlier stores (TSO), so it only has to stop the JIT
/// from moving the entry writes after it, which it does; on arm64 it is <c>stlr</c>, which orders every earlier load and
/// store before the index store.</item>
/// <item><c>xen_rmb</c> after reading <c>rsp_prod</c>: a <c>Volatile.Read</c> (an acquire load). x86-64
/// does not reorder loads with later loads; on arm64 it is <c>ldar</c>, which orders every later load after it, so no
/// entry is read before the index that covers it.</item>
/// <item><c>xen_mb</c> between publishing an index and reading the peer's event index (or writing our event index and
/// re-reading the producer): <see cref="Interlocked.MemoryBarrier"/>, a full fence (<c>lock or</c>/<c>mfence</c> on
/// x86-64, <c>dmb ish</c> on arm64). It is needed on both: even x86-64 lets a load pass an earlier store, and a missed
/// store-load order here loses a wake-up.</item>
/// </list>
/// </para>
/// </remarks>
/// <typeparam name="TRequest">The request type, laid out as its C struct.</typeparam>
/// <typeparam name="TResponse">The response type, laid out as its C struct.</typeparam>
internal sealed class FrontRing<TRequest, TResponse> : SharedRing<TRequest, TResponse>
    where TRequest : unmanaged
    where TResponse : unmanaged
{
    private uint _requestProducerPrivate; // req_prod_pvt
    private uint _requestsPushed;         // the req_prod we last published (only we write it: never read back)
    private ConsumerIndices _responses;   // rsp_cons, and the last rsp_prod read and validated

    /// <summary>Attaches the front to <paramref name="length"/> bytes at <paramref name="address"/>.</summary>
    /// <param name="address">The shared pages (page-aligned).</param>
    /// <param name="length">Their size: 2^order pages.</param>
    /// <param name="name">The ring's name in errors.</param>
    /// <param name="initialize">
    /// True (the front's usual start, <c>XEN_FRONT_RING_INIT</c>): initialise the shared header
    /// (<c>SHARED_RING_INIT</c>) before the ring is advertised; false to attach to a header initialised already.
    /// </param>
    /// <param name="attachIndex">
    /// With <paramref name="initialize"/> false, the index both producers stand at (<c>FRONT_RING_ATTACH</c>, for a ring
    /// taken over after a reconnect).
    /// </param>
    public FrontRing(nint address, int length, string name = "front", bool initialize = true, uint attachIndex = 0)
        : base(address, length, name)
    {
        if (initialize)
        {
            ArgumentOutOfRangeException.ThrowIfNotEqual(attachIndex, 0u);
            InitializeShared();
        }

        _requestProducerPrivate = _requestsPushed = _responses.Consumer = _responses.ProducerSeen = attachIndex;
    }

    /// <summary>Attaches the front to <paramref name="pages"/> (a page-pool buffer, a grant share), initialising the header.</summary>
    public FrontRing(Memory<byte> pages, string name = "front", bool initialize = true)
        : base(pages, name)
    {
        if (initialize)
        {
            InitializeShared();
        }
    }

    /// <summary><c>req_prod_pvt</c>: requests produced so far (pushed or not).</summary>
    public uint RequestProducerPrivate => _requestProducerPrivate;

    /// <summary><c>rsp_cons</c>: responses consumed so far.</summary>
    public uint ResponseConsumer => _responses.Consumer;

    /// <summary><c>RING_FREE_REQUESTS</c>: requests that may be produced before the ring is full.</summary>
    public int FreeRequests => Size - (int)(_requestProducerPrivate - _responses.Consumer);

    /// <summary><c>RING_FULL</c>.</summary>
    public bool IsFull => FreeRequests == 0;

    /// <summary>Requests produced but not yet pushed.</summary>
    public int UnpushedRequests => (int)(_requestProducerPrivate - _requestsPushed);

    /// <summary>
    /// Writes <paramref name="request"/> into the next free entry (not yet visible to the backend: <see cref="PushRequests"/>).
    /// </summary>
    /// <returns>False when the ring is full (every entry holds a request whose response is not consumed).</returns>
    /// <exception cref="XenRingException">The ring is broken.</exception>
    public bool TryProduceRequest(in TRequest request)
    {
        ThrowIfBroken();
        if (_requestProducerPrivate - _responses.Consumer >= (uint)Size)
        {
            return false;
        }

        WriteEntry(_requestProducerPrivate, request);
        _requestProducerPrivate++;
        return true;
    }

    /// <summary>
    /// Writes as many of <paramref name="requests"/> as the ring has room for into the next free entries, in order (not
    /// yet visible to the backend: <see cref="PushRequests"/>): <see cref="TryProduceRequest"/> for a batch, with the
    /// checks made once.
    /// </summary>
    /// <returns>How many were written, from the first (0 when the ring is full).</returns>
    /// <exception cref="XenRingException">The ring is broken.</exception>
    public int ProduceRequests(ReadOnlySpan<TRequest> requests)
    {
        ThrowIfBroken();
        uint producer = _requestProducerPrivate;
        int count = (int)Math.Min((uint)requests.Length, (uint)Size - (producer - _responses.Consumer));
        WriteEntries(producer, requests[..count]);
        _requestProducerPrivate = producer + (uint)count;
        return count;
    }

    /// <summary>
    /// Writes up to <paramref name="count"/> requests that <paramref name="source"/> makes straight into the next free
    /// entries, as many as the ring has room for (not yet visible to the backend: <see cref="PushRequests"/>): the batch
    /// without a staging copy. If the source throws, none of this call's requests is produced.
    /// </summary>
    /// <returns>How many were written (0 when the ring is full).</returns>
    /// <exception cref="XenRingException">The ring is broken.</exception>
    public int ProduceRequests<TSource>(int count, ref TSource source)
        where TSource : struct, IRingEntrySource<TRequest>
    {
        ThrowIfBroken();
        uint producer = _requestProducerPrivate;
        int made = (int)Math.Min((uint)Math.Max(count, 0), (uint)Size - (producer - _responses.Consumer));
        WriteEntries<TRequest, TSource>(producer, made, ref source);
        _requestProducerPrivate = producer + (uint)made;
        return made;
    }

    /// <summary>
    /// <c>RING_PUSH_REQUESTS_AND_CHECK_NOTIFY</c>: publishes the produced requests and says whether the backend asked to
    /// be notified of them (its <c>req_event</c> falls within the batch).
    /// </summary>
    /// <returns>True when the caller must notify the backend.</returns>
    /// <exception cref="XenRingException">The ring is broken.</exception>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool PushRequests()
    {
        ThrowIfBroken();
        uint old = _requestsPushed;
        uint pushed = _requestProducerPrivate;
        if (pushed == old)
        {
            return false;
        }

        Volatile.Write(ref RequestProducer, pushed); // xen_wmb: the entries before the index (see the remarks)
        _requestsPushed = pushed;
        Interlocked.MemoryBarrier();                 // xen_mb: the index before reading req_event
        uint requestEvent = Volatile.Read(ref RequestEvent);
        return pushed - requestEvent < pushed - old;
    }

    /// <summary>
    /// Copies the next response out of the ring, reading (and validating) <c>rsp_prod</c> when the responses seen so far
    /// are consumed. <c>rsp_prod</c> may stand no further than the requests pushed: a response to a request never
    /// published is a response to nothing (stricter than ring.h's <c>RING_RESPONSE_PROD_OVERFLOW</c>, which allows a
    /// ring ahead of <c>rsp_cons</c>).
    /// </summary>
    /// <returns>False when no response is waiting.</returns>
    /// <exception cref="XenRingException">The ring is broken (now or before).</exception>
    public bool TryConsumeResponse(out TResponse response) => TryConsume(ref _responses, ref ResponseProducer, _requestsPushed, out response);

    /// <summary>
    /// Copies up to <paramref name="into"/>'s length of the waiting responses out of the ring, in order, reading (and
    /// validating) <c>rsp_prod</c> only when the responses seen so far are consumed: <see cref="TryConsumeResponse"/>
    /// for a batch, with the checks made once.
    /// </summary>
    /// <returns>How many were copied (0 when none is waiting).</returns>
    /// <exception cref="XenRingException">The ring is broken (now or before).</exception>
    public int ConsumeResponses(Span<TResponse> into) => ConsumeBatch(ref _responses, ref ResponseProducer, _requestsPushed, into);

    /// <summary>
    /// Hands up to <paramref name="max"/> waiting responses, each copied out of the ring, to <paramref name="sink"/>, in
    /// order, reading (and validating) <c>rsp_prod</c> only when the responses seen so far are consumed: the batch
    /// without a staging copy.
    /// </summary>
    /// <returns>How many were handed over (0 when none is waiting).</returns>
    /// <exception cref="XenRingException">The ring is broken (now or before).</exception>
    public int ConsumeResponses<TSink>(int max, ref TSink sink)
        where TSink : struct, IRingEntrySink<TResponse> => ConsumeBatch<TResponse, TSink>(ref _responses, ref ResponseProducer, _requestsPushed, max, ref sink);

    /// <summary>
    /// <c>RING_HAS_UNCONSUMED_RESPONSES</c>: whether a response is waiting (reads and validates <c>rsp_prod</c> when the
    /// responses seen are consumed; asks for no notification: for spinning before <see cref="FinalCheckForResponses"/>).
    /// </summary>
    /// <exception cref="XenRingException">The ring is broken.</exception>
    public bool HasUnconsumedResponses => HasUnconsumed(ref _responses, ref ResponseProducer, _requestsPushed);

    /// <summary>
    /// <c>RING_HAS_UNCONSUMED_RESPONSES</c> as a count: reads (and validates) <c>rsp_prod</c> once and says how many
    /// responses wait; the next that many <see cref="TryConsumeResponse"/> calls take them without reading it again.
    /// </summary>
    /// <remarks>
    /// For a batch loop that reads the shared index once per batch, as ring.h's consumers do: a consumer that asks
    /// <see cref="TryConsumeResponse"/> until it fails reads <c>rsp_prod</c> once more per batch, a cache line the
    /// back keeps writing (a miss per batch at 32 in flight in ring-echo).
    /// </remarks>
    /// <exception cref="XenRingException">The ring is broken.</exception>
    public int UnconsumedResponses => Unconsumed(ref _responses, ref ResponseProducer, _requestsPushed);

    /// <summary>
    /// <c>RING_FINAL_CHECK_FOR_RESPONSES</c>: when no response is waiting, asks the backend to notify at the next one
    /// (<c>rsp_event = rsp_cons + 1</c>) and checks again, so a response pushed meanwhile is not slept through.
    /// </summary>
    /// <returns>True when responses are waiting (consume them before sleeping); false: sleep until notified.</returns>
    /// <exception cref="XenRingException">The ring is broken.</exception>
    public bool FinalCheckForResponses() => FinalCheck(ref _responses, ref ResponseProducer, ref ResponseEvent, _requestsPushed);

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private protected override XenRingException BreakOnProducer(uint producer) =>
        Break($"rsp_prod {Direction(producer, _responses.ProducerSeen, "the requests pushed")}: it is {producer}, after {_responses.ProducerSeen}, with rsp_cons {_responses.Consumer} and {_requestsPushed - _responses.Consumer} requests outstanding (ring of {Size}).");
}
