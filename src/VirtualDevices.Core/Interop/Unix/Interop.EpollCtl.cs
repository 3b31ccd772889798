namespace VirtualDevices.Interop;

internal static partial class Unix
{
    /// <summary>
    /// <c>epoll_ctl(2)</c>: adds, changes or removes <paramref name="fd"/> in the interest list of <paramref name="epfd"/>.
    /// <paramref name="epollEvent"/> points at <see cref="EpollEvent.Size"/> bytes laid out as <c>struct epoll_event</c>
    /// (ignored for <see cref="EPOLL_CTL_DEL"/>).
    /// </summary>
    /// <remarks>
    /// <paramref name="fd"/> is any SafeHandle over a descriptor (a socket's or a device's), kept alive for the call.
    /// </remarks>
    [LibraryImport(Libc, EntryPoint = "epoll_ctl", SetLastError = true)]
    internal static unsafe partial int EpollCtl(SafeFileDescriptor epfd, int op, SafeHandle fd, byte* epollEvent);

    /// <summary><c>EPOLL_CTL_ADD</c>.</summary>
    internal const int EPOLL_CTL_ADD = 1;

    /// <summary><c>EPOLL_CTL_DEL</c>.</summary>
    internal const int EPOLL_CTL_DEL = 2;

    /// <summary><c>EPOLL_CTL_MOD</c>.</summary>
    internal const int EPOLL_CTL_MOD = 3;
}
