
namespace VirtualDevices.Interop;

internal static partial class Unix
{
    /// <summary><c>POLLIN</c>: there is data to read.</summary>
    internal const short POLLIN = 0x1;

    /// <summary><c>POLLERR</c>: an error condition (the event channel device reports a pending-ring overflow so).</summary>
    internal const short POLLERR = 0x8;

    /// <summary><c>POLLHUP</c>: the peer hung up.</summary>
    internal const short POLLHUP = 0x10;

    /// <summary><c>POLLNVAL</c>: the descriptor is not open.</summary>
    internal const short POLLNVAL = 0x20;

    /// <summary><c>struct pollfd</c>.</summary>
    [StructLayout(LayoutKind.Sequential)]
    internal struct PollFd
    {
        public int Fd;
        public short Events;
        public short ReturnedEvents;
    }

    /// <summary><c>poll(2)</c>; <c>nfds_t</c> is an unsigned long on Linux (an unsigned int on macOS, where this is unused).</summary>
    [LibraryImport(Libc, EntryPoint = "poll", SetLastError = true)]
    internal static unsafe partial int Poll(PollFd* fds, nuint count, int timeoutMilliseconds);
}
