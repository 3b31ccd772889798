namespace VirtualDevices.Interop;

internal static partial class Unix
{
    // The POLL* bits and struct pollfd are the same on Linux (asm-generic/poll.h, checked against <poll.h> by
    // PollLayoutTests) and on macOS (xnu bsd/sys/poll.h: POLLIN 0x0001, POLLOUT 0x0004, POLLERR 0x0008, POLLHUP 0x0010,
    // POLLNVAL 0x0020; struct pollfd { int fd; short events; short revents; }), so they need no per-OS choice.

    /// <summary><c>POLLIN</c>: there is data to read.</summary>
    internal const short POLLIN = 0x1;

    /// <summary><c>POLLOUT</c>: writing will not block.</summary>
    internal const short POLLOUT = 0x4;

    /// <summary><c>POLLERR</c>: an error condition (the event channel device reports a pending-ring overflow so).</summary>
    internal const short POLLERR = 0x8;

    /// <summary><c>POLLHUP</c>: the peer hung up.</summary>
    internal const short POLLHUP = 0x10;

    /// <summary><c>POLLNVAL</c>: the descriptor is not open.</summary>
    internal const short POLLNVAL = 0x20;

    /// <summary><c>struct pollfd</c> (8 bytes: fd at 0, events at 4, revents at 6, on Linux and macOS).</summary>
    [StructLayout(LayoutKind.Sequential)]
    internal struct PollFd
    {
        public int Fd;
        public short Events;
        public short ReturnedEvents;
    }

    /// <summary>
    /// <c>poll(2)</c>. <c>nfds_t</c> is an unsigned long on Linux and an unsigned int on macOS (xnu bsd/sys/poll.h);
    /// the count travels in a register either way (x86-64 and arm64 alike), and it never reaches 2^31, so a callee
    /// that reads only the low 32 bits reads it right.
    /// </summary>
    [LibraryImport(Libc, EntryPoint = "poll", SetLastError = true)]
    internal static unsafe partial int Poll(PollFd* fds, nuint count, int timeoutMilliseconds);
}
