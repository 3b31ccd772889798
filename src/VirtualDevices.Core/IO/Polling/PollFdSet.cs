using VirtualDevices.Interop;

namespace VirtualDevices.IO.Polling;

/// <summary>
/// The <c>struct pollfd</c> array of a poll-backend <see cref="PollLoop"/> and each entry's registration key. Reused
/// across rebuilds and only grown (doubling), so a loop whose registrations merely change allocates nothing.
/// </summary>
internal sealed unsafe class PollFdSet : IDisposable
{
    private int _capacity;

    public PollFdSet()
    {
        _capacity = 16;
        Fds = (Unix.PollFd*)NativeMemory.Alloc((nuint)_capacity, (nuint)sizeof(Unix.PollFd));
        Keys = new ulong[_capacity];
    }

    /// <summary>The entries, native memory for poll(2): the first <see cref="Count"/> are in use.</summary>
    public Unix.PollFd* Fds { get; private set; }

    /// <summary>Each entry's registration key (slot and generation), as the epoll backend's entry data.</summary>
    public ulong[] Keys { get; private set; }

    public int Count { get; set; }

    public int Capacity => _capacity;

    /// <summary>Grows (doubling) to hold at least <paramref name="count"/> entries; the contents need not survive.</summary>
    public void EnsureCapacity(int count)
    {
        if (count <= _capacity)
        {
            return;
        }

        int capacity = _capacity;
        while (capacity < count)
        {
            capacity *= 2;
        }

        NativeMemory.Free(Fds);
        Fds = null;
        Fds = (Unix.PollFd*)NativeMemory.Alloc((nuint)capacity, (nuint)sizeof(Unix.PollFd));
        Keys = new ulong[capacity];
        _capacity = capacity;
    }

    public void Dispose()
    {
        NativeMemory.Free(Fds);
        Fds = null;
    }
}
