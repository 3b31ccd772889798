
namespace VirtualDevices.IO.Polling;

/// <summary>One descriptor registered with a <see cref="PollLoop"/>: its interest, and how it leaves the loop.</summary>
internal sealed class PollRegistration
{
    private readonly PollLoop _loop;
    private int _removed;

    internal PollRegistration(PollLoop loop, SafeHandle descriptor, IPollHandler handler, ulong key, PollEvents interest)
    {
        _loop = loop;
        Descriptor = descriptor;
        Handler = handler;
        Key = key;
        Interest = interest;
    }

    internal SafeHandle Descriptor { get; }

    internal IPollHandler Handler { get; }

    /// <summary>Slot and generation, as the epoll entry's data: an event for a slot reused since is recognised as stale.</summary>
    internal ulong Key { get; }

    /// <summary>The poll backend's index of this registration in its array (loop thread only); -1 when not in it.</summary>
    internal int PollIndex { get; set; } = -1;

    /// <summary>The events asked for now.</summary>
    public PollEvents Interest { get; private set; }

    /// <summary>True once <see cref="Remove"/> ran.</summary>
    public bool IsRemoved => Volatile.Read(ref _removed) != 0;

    /// <summary>Changes the events waited for; costs a system call only when they change.</summary>
    /// <exception cref="IOException">epoll refused (the descriptor was closed behind the loop's back).</exception>
    public void Modify(PollEvents interest)
    {
        if (interest == Interest || IsRemoved)
        {
            return;
        }

        // Recorded first: the poll backend's loop thread reads Interest when it rebuilds its array after the wake-up
        // that Modify sends from another thread, so the new value must be visible by then. Restored if epoll refuses.
        PollEvents previous = Interest;
        Interest = interest;
        try
        {
            _loop.Modify(this, interest);
        }
        catch
        {
            Interest = previous;
            throw;
        }
    }

    /// <summary>Takes the descriptor out of the loop (before it is closed). Idempotent.</summary>
    public void Remove()
    {
        if (Interlocked.Exchange(ref _removed, 1) == 0)
        {
            _loop.Remove(this);
        }
    }
}
