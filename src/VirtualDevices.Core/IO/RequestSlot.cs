namespace VirtualDevices.IO;

/// <summary>
/// A slot of a <see cref="RequestTable{TRequest}"/>: its index, the generation that tags its current use, and the
/// reference count of the parties holding it. Derive from <see cref="PooledRequest{TResult}"/>, not from this.
/// </summary>
/// <remarks>
/// Three parties hold a request while it is in use: the caller (until it has the result), the sender (until the
/// request is on the wire, or on the ring) and the table (until the final reply, or the connection's death). The slot
/// goes back to the table's free list when all three let go, with its generation advanced, so a late reply carrying
/// the old id no longer matches it.
/// </remarks>
internal abstract class RequestSlot
{
    private IRequestPool? _pool;
    private int _references;
    private int _inTable;

    /// <summary>The slot's index in its table: the low bits of every id it carries.</summary>
    public int Index { get; private set; }

    /// <summary>How many times the slot was used before; advanced each time it returns to the pool.</summary>
    public uint Generation { get; private set; }

    /// <summary>The id of the slot's current use, as it goes on the wire (see <see cref="RequestTable{TRequest}.IdOf"/>).</summary>
    public ulong Id { get; internal set; }

    /// <summary>True from <see cref="RequestTable{TRequest}.Rent"/> until the request leaves the table (final reply, failure).</summary>
    public bool IsInTable => Volatile.Read(ref _inTable) != 0;

    internal RequestSlot? NextFree { get; set; }

    internal void Attach(IRequestPool pool, int index)
    {
        _pool = pool;
        Index = index;
    }

    /// <summary>Arms the slot for a use: three parties hold it, and it is in the table.</summary>
    internal void Arm()
    {
        _references = 3;
        Volatile.Write(ref _inTable, 1);
        _pool!.Entered(this);
    }

    /// <summary>Removes the request from the table; true for the one caller that did (it then drops the table's reference).</summary>
    public bool LeaveTable()
    {
        if (Interlocked.Exchange(ref _inTable, 0) == 0)
        {
            return false;
        }

        _pool!.Left(this);
        Release();
        return true;
    }

    /// <summary>One party lets go; the last one returns the slot to the pool with a new generation.</summary>
    private protected void Release()
    {
        if (Interlocked.Decrement(ref _references) != 0)
        {
            return;
        }

        Reset();
        Generation++;
        _pool!.Return(this);
    }

    /// <summary>Clears the use's state (buffers, registrations, the awaitable) before the slot is pooled again.</summary>
    private protected abstract void Reset();

    /// <summary>Fails the request's caller with <paramref name="reason"/> (the table is closing).</summary>
    internal abstract void FailFromTable(Exception reason);
}
