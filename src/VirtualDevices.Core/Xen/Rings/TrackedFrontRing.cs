using VirtualDevices.IO;

namespace VirtualDevices.Xen.Rings;

/// <summary>Reads the id a response carries (the request's, echoed).</summary>
internal delegate ulong RingResponseId<TResponse>(in TResponse response)
    where TResponse : unmanaged;

/// <summary>Writes the id into a request before it goes on the ring.</summary>
internal delegate void RingRequestId<TRequest>(ref TRequest request, ulong id)
    where TRequest : unmanaged;

/// <summary>
/// A frontend that tracks its requests by id over a <see cref="FrontRing{TRequest, TResponse}"/> with the core's
/// <see cref="RequestTable{TRequest}"/>: a request's id is its table slot (blkif's 64-bit id over 32 slots, netif's
/// 16-bit id over 256), the caller awaits its response, and a response carrying an id the front never issued (or
/// issued and already answered) breaks the ring.
/// </summary>
/// <remarks>
/// The table holds as many requests as the ring has entries, so a request that got a slot always finds a free entry: a
/// slot returns only after its response was consumed, which freed the entry. Notification is the caller's: the
/// <c>notify</c> callback is called when a push needs it, and the caller calls <see cref="ProcessResponses"/> when the
/// backend notifies (and before it sleeps, through <see cref="FinalCheckForResponses"/>).
/// </remarks>
/// <typeparam name="TRequest">The request type.</typeparam>
/// <typeparam name="TResponse">The response type.</typeparam>
internal sealed class TrackedFrontRing<TRequest, TResponse>
    where TRequest : unmanaged
    where TResponse : unmanaged
{
    private readonly FrontRing<TRequest, TResponse> _ring;
    private readonly RequestTable<RingRequest<TResponse>> _table;
    private readonly RingRequestId<TRequest> _setId;
    private readonly RingResponseId<TResponse> _getId;
    private readonly Action _notify;
    private readonly object _lock = new();

    /// <param name="ring">The front half (this object drives it from now on).</param>
    /// <param name="idBits">The width of the protocol's id (64 for blkif, 16 for netif).</param>
    /// <param name="setId">Writes an id into a request.</param>
    /// <param name="getId">Reads the id of a response.</param>
    /// <param name="notify">Notifies the backend (an event channel, an eventfd).</param>
    public TrackedFrontRing(FrontRing<TRequest, TResponse> ring, int idBits, RingRequestId<TRequest> setId, RingResponseId<TResponse> getId, Action notify)
    {
        ArgumentNullException.ThrowIfNull(ring);
        ArgumentNullException.ThrowIfNull(setId);
        ArgumentNullException.ThrowIfNull(getId);
        ArgumentNullException.ThrowIfNull(notify);
        _ring = ring;
        _setId = setId;
        _getId = getId;
        _notify = notify;
        _table = new RequestTable<RingRequest<TResponse>>(static () => new RingRequest<TResponse>(), ring.Size, idBits);
    }

    /// <summary>Requests sent and not yet answered.</summary>
    public int InFlight => _table.InFlight;

    /// <summary>The ring.</summary>
    public FrontRing<TRequest, TResponse> Ring => _ring;

    /// <summary>
    /// Sends <paramref name="request"/> (its id is set here) and returns its response; waits for a free slot when the
    /// ring is full of requests in flight.
    /// </summary>
    /// <param name="request">The request (its id is overwritten).</param>
    /// <param name="cancellationToken">
    /// Cancels the wait for a free slot; a request on the ring is not withdrawn (the ring has no way to), its response
    /// is awaited.
    /// </param>
    /// <exception cref="XenRingException">The ring is broken (before, or while the request was in flight).</exception>
    public async ValueTask<TResponse> SendAsync(TRequest request, CancellationToken cancellationToken = default)
    {
        RingRequest<TResponse> slot = await _table.RentAsync(cancellationToken).ConfigureAwait(false);
        slot.Start();
        _setId(ref request, slot.Id);
        bool notify;
        try
        {
            lock (_lock)
            {
                if (!_ring.TryProduceRequest(request))
                {
                    // Cannot happen while the table's capacity is the ring's size (see the remarks): a defect.
                    throw new InvalidOperationException($"The ring '{_ring.Name}' is full with a request slot free.");
                }

                notify = _ring.PushRequests();
            }
        }
        catch (Exception e)
        {
            slot.OnSent(e);
            if (e is XenRingException broken)
            {
                _table.Close(broken);
            }

            return await slot.AsValueTask().ConfigureAwait(false);
        }

        slot.OnSent(null);
        if (notify)
        {
            _notify();
        }

        return await slot.AsValueTask().ConfigureAwait(false);
    }

    /// <summary>
    /// Consumes the responses waiting on the ring and completes their requests. A response whose id matches no request
    /// in flight breaks the ring, and every request in flight fails with that error.
    /// </summary>
    /// <returns>The number of responses consumed.</returns>
    /// <exception cref="XenRingException">The ring is broken.</exception>
    public int ProcessResponses()
    {
        int count = 0;
        try
        {
            lock (_lock)
            {
                while (_ring.TryConsumeResponse(out TResponse response))
                {
                    ulong id = _getId(response);
                    if (_table.Lookup(id) is not { } request)
                    {
                        throw _ring.Break($"a response carries id {id}, which matches no request in flight (never issued, or answered already).");
                    }

                    request.Reply(response);
                    count++;
                }
            }
        }
        catch (XenRingException broken)
        {
            _table.Close(broken);
            throw;
        }

        return count;
    }

    /// <summary>
    /// <see cref="FrontRing{TRequest, TResponse}.FinalCheckForResponses"/> under the front's lock: false when the
    /// caller may sleep until the backend notifies.
    /// </summary>
    /// <exception cref="XenRingException">The ring is broken.</exception>
    public bool FinalCheckForResponses()
    {
        try
        {
            lock (_lock)
            {
                return _ring.FinalCheckForResponses();
            }
        }
        catch (XenRingException broken)
        {
            _table.Close(broken);
            throw;
        }
    }
}
