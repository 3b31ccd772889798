using System.Runtime.CompilerServices;

namespace VirtualDevices.Xen.Rings;

/// <summary>
/// The backend half of a shared ring (<c>struct X_back_ring</c>): consumes requests, produces responses.
/// </summary>
/// <remarks>
/// Take requests with <see cref="TryConsumeRequest"/>, answer each with <see cref="ProduceResponse"/>, publish a batch
/// with <see cref="PushResponses"/> (<c>RING_PUSH_RESPONSES_AND_CHECK_NOTIFY</c>), and before sleeping call
/// <see cref="FinalCheckForRequests"/> (<c>RING_FINAL_CHECK_FOR_REQUESTS</c>). The barriers are those of
/// <see cref="FrontRing{TRequest, TResponse}"/> (see its remarks for why each suffices on x86-64 and arm64).
/// </remarks>
/// <typeparam name="TRequest">The request type, laid out as its C struct.</typeparam>
/// <typeparam name="TResponse">The response type, laid out as its C struct.</typeparam>
internal sealed class BackRing<TRequest, TResponse> : SharedRing<TRequest, TResponse>
    where TRequest : unmanaged
    where TResponse : unmanaged
{
    private uint _responseProducerPrivate; // rsp_prod_pvt
    private uint _responsesPushed;         // the rsp_prod we last published (only we write it: never read back)
    private ConsumerIndices _requests;     // req_cons, and the last req_prod read and validated

    /// <summary>Attaches the back to the ring the front initialised in <paramref name="length"/> bytes at <paramref name="address"/> (<c>BACK_RING_INIT</c>).</summary>
    /// <param name="address">The shared pages (page-aligned).</param>
    /// <param name="length">Their size: 2^order pages.</param>
    /// <param name="name">The ring's name in errors.</param>
    /// <param name="attachIndex">The index both producers stand at (<c>BACK_RING_ATTACH</c>; 0 for a new ring).</param>
    public BackRing(nint address, int length, string name = "back", uint attachIndex = 0)
        : base(address, length, name)
    {
        _responseProducerPrivate = _responsesPushed = _requests.Consumer = _requests.ProducerSeen = attachIndex;
    }

    /// <summary>Attaches the back to <paramref name="pages"/> (a grant mapping).</summary>
    public BackRing(Memory<byte> pages, string name = "back")
        : base(pages, name)
    {
    }

    /// <summary><c>req_cons</c>: requests consumed so far.</summary>
    public uint RequestConsumer => _requests.Consumer;

    /// <summary><c>rsp_prod_pvt</c>: responses produced so far (pushed or not).</summary>
    public uint ResponseProducerPrivate => _responseProducerPrivate;

    /// <summary>Requests consumed and not yet answered.</summary>
    public int UnansweredRequests => (int)(_requests.Consumer - _responseProducerPrivate);

    /// <summary>
    /// Copies the next request out of the ring, reading (and validating) <c>req_prod</c> when the requests seen so far
    /// are consumed. <c>req_prod</c> may stand no more than a ring ahead of the responses produced
    /// (<c>RING_REQUEST_PROD_OVERFLOW</c>): further entries still hold our responses.
    /// </summary>
    /// <returns>False when no request is waiting.</returns>
    /// <exception cref="XenRingException">The ring is broken (now or before).</exception>
    public bool TryConsumeRequest(out TRequest request) => TryConsume(ref _requests, ref RequestProducer, RequestLimit, out request);

    /// <summary>
    /// Writes the response to the oldest unanswered request into its entry (not yet visible to the front:
    /// <see cref="PushResponses"/>).
    /// </summary>
    /// <exception cref="InvalidOperationException">No consumed request is waiting for a response.</exception>
    /// <exception cref="XenRingException">The ring is broken.</exception>
    public void ProduceResponse(in TResponse response)
    {
        ThrowIfBroken();
        if (_responseProducerPrivate == _requests.Consumer)
        {
            throw NothingToAnswer();
        }

        WriteEntry(_responseProducerPrivate, response);
        _responseProducerPrivate++;
    }

    /// <summary>
    /// Copies up to <paramref name="into"/>'s length of the waiting requests out of the ring, in order, reading (and
    /// validating) <c>req_prod</c> only when the requests seen so far are consumed: <see cref="TryConsumeRequest"/>
    /// for a batch, with the checks made once.
    /// </summary>
    /// <returns>How many were copied (0 when none is waiting).</returns>
    /// <exception cref="XenRingException">The ring is broken (now or before).</exception>
    public int ConsumeRequests(Span<TRequest> into) => ConsumeBatch(ref _requests, ref RequestProducer, RequestLimit, into);

    /// <summary>
    /// Writes <paramref name="responses"/> as the responses to the oldest unanswered requests, in order (not yet visible
    /// to the front: <see cref="PushResponses"/>): <see cref="ProduceResponse"/> for a batch, with the checks made once.
    /// </summary>
    /// <exception cref="InvalidOperationException">More responses than consumed requests waiting for one (nothing is written).</exception>
    /// <exception cref="XenRingException">The ring is broken.</exception>
    public void ProduceResponses(ReadOnlySpan<TResponse> responses)
    {
        ThrowIfBroken();
        uint producer = _responseProducerPrivate;
        if ((uint)responses.Length > _requests.Consumer - producer)
        {
            throw NothingToAnswer();
        }

        WriteEntries(producer, responses);
        _responseProducerPrivate = producer + (uint)responses.Length;
    }

    /// <summary>
    /// Hands up to <paramref name="max"/> waiting requests, each copied out of the ring, to <paramref name="sink"/>, in
    /// order, reading (and validating) <c>req_prod</c> only when the requests seen so far are consumed: the batch
    /// without a staging copy. The sink may answer each with <see cref="ProduceResponse"/> as it takes it.
    /// </summary>
    /// <returns>How many were handed over (0 when none is waiting).</returns>
    /// <exception cref="XenRingException">The ring is broken (now or before).</exception>
    public int ConsumeRequests<TSink>(int max, ref TSink sink)
        where TSink : struct, IRingEntrySink<TRequest> => ConsumeBatch<TRequest, TSink>(ref _requests, ref RequestProducer, RequestLimit, max, ref sink);

    /// <summary>
    /// Writes <paramref name="count"/> responses that <paramref name="source"/> makes straight into the entries of the
    /// oldest unanswered requests, in order (not yet visible to the front: <see cref="PushResponses"/>). If the source
    /// throws, none of this call's responses is produced.
    /// </summary>
    /// <exception cref="InvalidOperationException">More responses than consumed requests waiting for one (nothing is written).</exception>
    /// <exception cref="XenRingException">The ring is broken.</exception>
    public void ProduceResponses<TSource>(int count, ref TSource source)
        where TSource : struct, IRingEntrySource<TResponse>
    {
        ThrowIfBroken();
        uint producer = _responseProducerPrivate;
        if ((uint)count > _requests.Consumer - producer)
        {
            throw NothingToAnswer();
        }

        WriteEntries<TResponse, TSource>(producer, count, ref source);
        _responseProducerPrivate = producer + (uint)count;
    }

    /// <summary>
    /// <c>RING_PUSH_RESPONSES_AND_CHECK_NOTIFY</c>: publishes the produced responses and says whether the front asked to
    /// be notified of them (its <c>rsp_event</c> falls within the batch).
    /// </summary>
    /// <returns>True when the caller must notify the front.</returns>
    /// <exception cref="XenRingException">The ring is broken.</exception>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool PushResponses()
    {
        ThrowIfBroken();
        uint old = _responsesPushed;
        uint pushed = _responseProducerPrivate;
        if (pushed == old)
        {
            return false;
        }

        Volatile.Write(ref ResponseProducer, pushed); // xen_wmb: the entries before the index
        _responsesPushed = pushed;
        Interlocked.MemoryBarrier();                  // xen_mb: the index before reading rsp_event
        uint responseEvent = Volatile.Read(ref ResponseEvent);
        return pushed - responseEvent < pushed - old;
    }

    /// <summary>
    /// <c>RING_HAS_UNCONSUMED_REQUESTS</c>: whether a request is waiting (reads and validates <c>req_prod</c> when the
    /// requests seen are consumed; asks for no notification: for spinning before <see cref="FinalCheckForRequests"/>).
    /// </summary>
    /// <exception cref="XenRingException">The ring is broken.</exception>
    public bool HasUnconsumedRequests => HasUnconsumed(ref _requests, ref RequestProducer, RequestLimit);

    /// <summary>
    /// <c>RING_HAS_UNCONSUMED_REQUESTS</c> as a count: reads (and validates) <c>req_prod</c> once and says how many
    /// requests wait (no more than the ring has room to answer); the next that many <see cref="TryConsumeRequest"/>
    /// calls take them without reading it again (one read of the index the front keeps writing per batch, as ring.h's
    /// consumers do).
    /// </summary>
    /// <exception cref="XenRingException">The ring is broken.</exception>
    public int UnconsumedRequests => Unconsumed(ref _requests, ref RequestProducer, RequestLimit);

    /// <summary>
    /// <c>RING_FINAL_CHECK_FOR_REQUESTS</c>: when no request is waiting, asks the front to notify at the next one
    /// (<c>req_event = req_cons + 1</c>) and checks again, so a request pushed meanwhile is not slept through.
    /// </summary>
    /// <returns>True when requests are waiting (consume them before sleeping); false: sleep until notified.</returns>
    /// <exception cref="XenRingException">The ring is broken.</exception>
    public bool FinalCheckForRequests() => FinalCheck(ref _requests, ref RequestProducer, ref RequestEvent, RequestLimit);

    /// <summary>The furthest <c>req_prod</c> may stand: a ring ahead of the responses produced.</summary>
    private uint RequestLimit => _responseProducerPrivate + (uint)Size;

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private protected override XenRingException BreakOnProducer(uint producer) =>
        Break($"req_prod {Direction(producer, _requests.ProducerSeen, "the ring")}: it is {producer}, after {_requests.ProducerSeen}, with req_cons {_requests.Consumer} and rsp_prod_pvt {_responseProducerPrivate} (ring of {Size}).");

    // Out of line: formatting the message inline kept ProduceResponse from inlining into the back's loop (perf showed
    // it as its own frame in ring-echo-serve).
    [MethodImpl(MethodImplOptions.NoInlining)]
    private InvalidOperationException NothingToAnswer() => new($"The ring '{Name}' has no consumed request left to answer.");
}
