namespace VirtualDevices.IO;

/// <summary>
/// The requests in flight on one connection (or one shared ring): pooled slots handed out from a free list, each use
/// tagged with an id that carries the slot's index in its low bits and the slot's generation above them, so that a
/// reply is matched to its request with one array index and a reply to an earlier use of the slot is told apart.
/// </summary>
/// <remarks>
/// <para>
/// The id space fits the wire: NBD's 64-bit cookie (32 bits of index, 32 of generation), xenstore's 32-bit req_id,
/// blkif's 64-bit id over a ring of 32 slots, netif's 16-bit id over 256. <c>idBits</c> is the width of the wire's
/// id, <c>capacity</c> the most requests in flight; the index takes the bits the capacity needs, the generation the
/// rest (none when the capacity fills the id, as netif's 256 ids in 16 bits leave 8).
/// </para>
/// <para>
/// An unbounded table (the default) grows as requests are added and never waits: NBD's in-flight bound is the
/// caller's. A bounded one (a ring) hands out at most <c>capacity</c> slots: <see cref="TryRent"/> says no and
/// <see cref="RentAsync"/> waits when all are in use, until one is returned. A slot is returned only when its caller
/// has the result, its sender let go, and it left the table (final reply, or <see cref="Close"/>).
/// </para>
/// <para>Renting, looking up and returning allocate nothing (waiting for a free slot may).</para>
/// </remarks>
/// <typeparam name="TRequest">The protocol's request type.</typeparam>
internal sealed class RequestTable<TRequest> : IRequestPool
    where TRequest : RequestSlot
{
    private readonly Func<TRequest> _factory;
    private readonly object _lock = new();
    private readonly SemaphoreSlim? _available;
    private readonly CancellationTokenSource? _closing;
    private readonly int _indexBits;
    private readonly ulong _indexMask;
    private readonly ulong _generationMask;
    private TRequest?[] _slots;
    private int _slotCount;
    private RequestSlot? _free;
    private Exception? _closed;
    private int _inFlight;

    /// <param name="factory">Makes a new request (the table attaches it to itself).</param>
    /// <param name="capacity">
    /// The most requests in flight; <see cref="int.MaxValue"/> for a table that grows without bound (with a 64-bit id;
    /// a narrower id then gets half its bits for the index).
    /// </param>
    /// <param name="idBits">The width of the id on the wire (16, 32 or 64).</param>
    /// <exception cref="ArgumentOutOfRangeException">The capacity does not fit the id, or the width is not 1 to 64.</exception>
    public RequestTable(Func<TRequest> factory, int capacity = int.MaxValue, int idBits = 64)
    {
        ArgumentNullException.ThrowIfNull(factory);
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(idBits, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(idBits, 64);
        _factory = factory;
        if (capacity == int.MaxValue && idBits < 64)
        {
            // Growing without bound needs a 64-bit id; a narrower one is split evenly (xenstore's 32 bits: 65,536 in
            // flight, 16 bits of generation).
            capacity = 1 << Math.Min(30, idBits / 2);
        }

        Capacity = capacity;

        // Unbounded: NBD's layout (index in the low 32 bits). Bounded: just the bits the capacity needs.
        _indexBits = capacity == int.MaxValue ? Math.Min(32, idBits) : Math.Max(1, 64 - System.Numerics.BitOperations.LeadingZeroCount((ulong)(capacity - 1)));
        if (_indexBits > idBits || (capacity != int.MaxValue && idBits < 64 && (ulong)capacity > 1UL << idBits))
        {
            throw new ArgumentOutOfRangeException(nameof(capacity), $"{capacity} requests do not fit a {idBits}-bit id.");
        }

        _indexMask = _indexBits == 64 ? ulong.MaxValue : (1UL << _indexBits) - 1;
        int generationBits = Math.Min(32, idBits - _indexBits);
        _generationMask = generationBits == 0 ? 0 : generationBits == 64 ? ulong.MaxValue : (1UL << generationBits) - 1;
        _slots = new TRequest?[Math.Min(capacity, 16)];
        if (capacity != int.MaxValue)
        {
            _available = new SemaphoreSlim(capacity, capacity);
            _closing = new CancellationTokenSource();
        }
    }

    /// <summary>The most requests in flight (<see cref="int.MaxValue"/>: unbounded).</summary>
    public int Capacity { get; }

    /// <summary>Requests in the table: begun and not yet answered, dropped or failed.</summary>
    public int InFlight => Volatile.Read(ref _inFlight);

    /// <summary>Slots made so far (the highest index plus one): the range <see cref="SlotAt"/> scans.</summary>
    public int SlotCount => Volatile.Read(ref _slotCount);

    /// <summary>Why the table was closed, or null while it is open.</summary>
    public Exception? ClosedReason => Volatile.Read(ref _closed);

    /// <summary>The id a slot's use carries on the wire.</summary>
    public ulong IdOf(RequestSlot slot) => ((slot.Generation & _generationMask) << _indexBits) | (uint)slot.Index;

    /// <summary>
    /// A free request (not yet begun: set its fields, then begin it, which puts it in the table); false when a
    /// bounded table has every slot in use.
    /// </summary>
    /// <exception cref="Exception">The table is closed: its <see cref="ClosedReason"/>.</exception>
    public bool TryRent(out TRequest request)
    {
        ThrowIfClosed();
        if (_available is not null && !_available.Wait(0))
        {
            request = null!;
            return false;
        }

        request = Take();
        return true;
    }

    /// <summary>A free request; an unbounded table never fails, a bounded one throws when every slot is in use.</summary>
    /// <exception cref="InvalidOperationException">Every slot of a bounded table is in use.</exception>
    public TRequest Rent() => TryRent(out TRequest request)
        ? request
        : throw new InvalidOperationException($"All {Capacity} request ids are in use.");

    /// <summary>A free request, waiting for one to be returned when every slot of a bounded table is in use.</summary>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled while waiting.</exception>
    /// <exception cref="Exception">The table was closed (before or while waiting): its <see cref="ClosedReason"/>.</exception>
    public async ValueTask<TRequest> RentAsync(CancellationToken cancellationToken = default)
    {
        if (TryRent(out TRequest request))
        {
            return request;
        }

        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _closing!.Token);
        try
        {
            await _available!.WaitAsync(linked.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            ThrowIfClosed();
            throw;
        }

        if (Volatile.Read(ref _closed) is not null)
        {
            _available.Release();
            ThrowIfClosed();
        }

        return Take();
    }

    /// <summary>The request in the table whose use carries <paramref name="id"/>; null for an unknown or stale id.</summary>
    public TRequest? Lookup(ulong id)
    {
        ulong index = id & _indexMask;
        ulong generation = (id >> _indexBits) & _generationMask;
        if (_indexBits < 64 && (id >> _indexBits) > _generationMask)
        {
            return null;
        }

        TRequest?[] slots = Volatile.Read(ref _slots);
        return index < (ulong)slots.Length && slots[index] is { } request && (request.Generation & _generationMask) == generation && request.IsInTable
            ? request
            : null;
    }

    /// <summary>The slot at <paramref name="index"/> (for scans such as request timeouts; check <see cref="RequestSlot.IsInTable"/>).</summary>
    public TRequest? SlotAt(int index)
    {
        TRequest?[] slots = Volatile.Read(ref _slots);
        return (uint)index < (uint)slots.Length ? slots[index] : null;
    }

    /// <summary>
    /// Closes the table: every request in it fails with <paramref name="reason"/> and leaves it, as does every request
    /// begun later; renting throws the reason. The first reason stays. Called by the connection's teardown.
    /// </summary>
    public void Close(Exception reason)
    {
        ArgumentNullException.ThrowIfNull(reason);
        if (Interlocked.CompareExchange(ref _closed, reason, null) is null)
        {
            _closing?.Cancel();
        }

        Exception closed = Volatile.Read(ref _closed)!;
        TRequest?[] slots = Volatile.Read(ref _slots);
        foreach (TRequest? request in slots)
        {
            if (request is not null && request.IsInTable)
            {
                request.FailFromTable(closed);
                request.LeaveTable();
            }
        }
    }

    void IRequestPool.Entered(RequestSlot slot)
    {
        Interlocked.Increment(ref _inFlight);
        if (Volatile.Read(ref _closed) is { } closed && slot.LeaveTable())
        {
            // Begun after (or while) Close scanned the table.
            slot.FailFromTable(closed);
        }
    }

    void IRequestPool.Left(RequestSlot slot) => Interlocked.Decrement(ref _inFlight);

    void IRequestPool.Return(RequestSlot slot)
    {
        lock (_lock)
        {
            slot.NextFree = _free;
            _free = slot;
        }

        _available?.Release();
    }

    private TRequest Take()
    {
        TRequest request;
        lock (_lock)
        {
            if (_free is { } free)
            {
                _free = free.NextFree;
                free.NextFree = null;
                request = (TRequest)free;
            }
            else
            {
                if (_slotCount == _slots.Length)
                {
                    var grown = new TRequest?[Math.Min(Capacity, _slots.Length * 2)];
                    _slots.CopyTo(grown, 0);
                    Volatile.Write(ref _slots, grown);
                }

                request = _factory();
                request.Attach(this, _slotCount);
                _slots[_slotCount] = request;
                Volatile.Write(ref _slotCount, _slotCount + 1);
            }
        }

        request.Id = IdOf(request);
        return request;
    }

    private void ThrowIfClosed()
    {
        if (Volatile.Read(ref _closed) is { } closed)
        {
            throw closed;
        }
    }
}
