namespace VirtualDevices.IO.Polling;

/// <summary>What a descriptor is ready for, or what a handler waits for (the values are epoll's).</summary>
[Flags]
internal enum PollEvents : uint
{
    /// <summary>Nothing.</summary>
    None = 0,

    /// <summary>Data to read, or end of stream (<c>EPOLLIN</c>).</summary>
    Readable = 0x001,

    /// <summary>Room to write (<c>EPOLLOUT</c>).</summary>
    Writable = 0x004,

    /// <summary>An error on the descriptor (<c>EPOLLERR</c>); reported whatever the interest.</summary>
    Error = 0x008,

    /// <summary>Both directions are shut, the peer is gone (<c>EPOLLHUP</c>); reported whatever the interest.</summary>
    HangUp = 0x010,
}
