namespace VirtualDevices.Interop;

internal static partial class Unix
{
    /// <summary>
    /// <c>epoll_wait(2)</c>: waits up to <paramref name="timeout"/> ms (-1: forever) for ready descriptors and fills
    /// <paramref name="events"/> (<paramref name="maxEvents"/> entries of <see cref="EpollEvent.Size"/> bytes).
    /// </summary>
    /// <returns>The number of entries filled, 0 on timeout, -1 with errno (EINTR when a signal interrupted the wait).</returns>
    [LibraryImport(Libc, EntryPoint = "epoll_wait", SetLastError = true)]
    internal static unsafe partial int EpollWait(SafeFileDescriptor epfd, byte* events, int maxEvents, int timeout);
}
