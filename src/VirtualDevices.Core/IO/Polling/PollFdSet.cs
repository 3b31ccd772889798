using VirtualDevices.Interop;

namespace VirtualDevices.IO.Polling;

/// <summary>
/// The <c>struct pollfd</c> array of a poll-backend <see cref="PollLoop"/> (loop thread only) and each entry's
/// registration key. Reused across rebuilds and only grown (doubling), so a loop whose registrations merely change
/// allocates nothing.
/// </summary>
internal sealed unsafe class PollFdSet : IDisposable
{
    public PollFdSet()
    {
        Capacity = 16;
        Fds = (Unix.PollFd*)NativeMemory.Alloc((nuint)Capacity, (nuint)sizeof(Unix.PollFd));
        Keys = new ulong[Capacity];
    }

    /// <summary>The entries, in native memory for poll(2): the first <see cref="Count"/> are in use.</summary>
    public Unix.PollFd* Fds { get; private set; }

    /// <summary>Each entry's registration key (slot and generation), as the epoll backend's entry data.</summary>
    public ulong[] Keys { get; private set; }

    /// <summary>The entries in use.</summary>
    public int Count { get; set; }

    /// <summary>The entries allocated.</summary>
    public int Capacity { get; private set; }

    /// <summary>Grows (doubling) to hold at least <paramref name="count"/> entries; the contents need not survive.</summary>
    public void EnsureCapacity(int count)
    {
        if (count <= Capacity)
        {
            return;
        }

        int capacity = Capacity;
        while (capacity < count)
        {
            capacity *= 2;
        }

        NativeMemory.Free(Fds);
        Fds = null;
        Fds = (Unix.PollFd*)NativeMemory.Alloc((nuint)capacity, (nuint)sizeof(Unix.PollFd));
        Keys = new ulong[capacity];
        Capacity = capacity;
        Count = 0;
    }

    public void Dispose()
    {
        NativeMemory.Free(Fds);
        Fds = null;
        Count = 0;
    }
}
