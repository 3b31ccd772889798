namespace VirtualDevices.Xen.Xenstore.Client;

/// <summary>
/// The client's requests in flight, by request id: a fixed array of slots (<c>id % SlotCount</c>) read by the reader
/// without a lock, and an overflow dictionary for when more than <see cref="SlotCount"/> are in flight. Ids are
/// chosen so that no two requests share a slot. An entry is removed only by whoever moved its request's state out of
/// waiting (the reader, a disconnect, a failed send, or the caller retiring a cancelled request), so the id carried
/// in every state transition keeps a stale read from completing a reused request.
/// </summary>
internal sealed class ClientRequestTable
{
    /// <summary>256: far more than a xenstore client keeps in flight (a burst of watch registrations, say).</summary>
    internal const int SlotCount = 256;
    private const uint SlotMask = SlotCount - 1;

    private readonly PendingRequest?[] _slots = new PendingRequest?[SlotCount];

    /// <summary>Requests in flight beyond what the slots hold (under its own lock).</summary>
    private readonly Dictionary<uint, PendingRequest> _overflow = [];
    private int _overflowCount;
    private uint _nextRequestId;
    private int _inFlight;

    /// <summary>How many requests wait for a reply (the reader spins for replies only while some do).</summary>
    internal int InFlight => Volatile.Read(ref _inFlight);

    /// <summary>Gives the request an id whose slot is free and publishes it. Called under the client's send lock.</summary>
    internal uint Register(PendingRequest pending)
    {
        Interlocked.Increment(ref _inFlight);
        for (int attempt = 0; attempt < SlotCount; attempt++)
        {
            uint id = NextRequestId();
            ref PendingRequest? slot = ref _slots[id & SlotMask];
            if (slot is null)
            {
                pending.Arm(id);
                Volatile.Write(ref slot, pending);
                return id;
            }
        }

        // Every slot is taken: that many requests are in flight.
        uint overflowId = NextRequestId();
        pending.Arm(overflowId);
        lock (_overflow)
        {
            _overflow[overflowId] = pending;
            _overflowCount = _overflow.Count;
        }

        return overflowId;
    }

    private uint NextRequestId()
    {
        uint id = ++_nextRequestId;
        return id != 0 ? id : ++_nextRequestId;
    }

    /// <summary>Takes back a request whose send failed; false if a disconnect claimed it first.</summary>
    internal bool Unregister(PendingRequest pending, uint id)
    {
        if (!pending.TryClaim(id))
        {
            return false;
        }

        Remove(pending, id);
        return true;
    }

    /// <summary>
    /// Called when a cancelled request's result is taken: true if it could be retired (its late reply can no longer
    /// reach it, so it may be reused); false if the reader or a disconnect retired it (it is then left to the collector).
    /// </summary>
    internal bool TryRetire(PendingRequest pending)
    {
        uint id = pending.RequestId;
        if (!pending.TryBury(id))
        {
            return false;
        }

        Remove(pending, id);
        return true;
    }

    /// <summary>
    /// The request a reply with <paramref name="id"/> answers, taken out of the table; null if nobody waits for it
    /// any more (its request was cancelled and retired). A cancelled request still waiting for its result to be
    /// taken is retired here and not returned (its caller leaves it to the collector).
    /// </summary>
    internal PendingRequest? Take(uint id)
    {
        PendingRequest? pending = Volatile.Read(ref _slots[id & SlotMask]);
        if (pending is null || pending.RequestId != id)
        {
            pending = null;
            if (Volatile.Read(ref _overflowCount) > 0)
            {
                lock (_overflow)
                {
                    _overflow.TryGetValue(id, out pending);
                }
            }

            if (pending is null)
            {
                return null;
            }
        }

        // The id is part of every state transition, so a stale read above cannot complete a reused request.
        if (pending.TryClaim(id))
        {
            Remove(pending, id);
            return pending;
        }

        if (pending.TryBury(id))
        {
            Remove(pending, id);
        }

        return null;
    }

    /// <summary>Fails every request in flight with <paramref name="error"/> (the connection is gone).</summary>
    internal void FailAll(Exception error)
    {
        for (int i = 0; i < _slots.Length; i++)
        {
            if (Volatile.Read(ref _slots[i]) is { } request)
            {
                FailOne(request, error);
            }
        }

        if (Volatile.Read(ref _overflowCount) > 0)
        {
            PendingRequest[] overflow;
            lock (_overflow)
            {
                overflow = [.. _overflow.Values];
            }

            foreach (PendingRequest request in overflow)
            {
                FailOne(request, error);
            }
        }
    }

    private void FailOne(PendingRequest request, Exception error)
    {
        uint id = request.RequestId;
        if (request.TryClaim(id))
        {
            Remove(request, id);
            request.Fail(error);
        }
        else if (request.TryBury(id))
        {
            Remove(request, id);
        }
    }

    /// <summary>Removes a request from the table; called by whoever moved its state out of waiting or cancelled.</summary>
    private void Remove(PendingRequest pending, uint id)
    {
        Interlocked.Decrement(ref _inFlight);
        ref PendingRequest? slot = ref _slots[id & SlotMask];
        if (ReferenceEquals(Volatile.Read(ref slot), pending))
        {
            Volatile.Write(ref slot, null);
            return;
        }

        lock (_overflow)
        {
            _overflow.Remove(id);
            _overflowCount = _overflow.Count;
        }
    }
}
