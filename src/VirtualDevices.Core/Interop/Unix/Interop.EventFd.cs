namespace VirtualDevices.Interop;

internal static partial class Unix
{
    /// <summary>
    /// <c>eventfd(2)</c> (Linux): a counter descriptor, readable while non-zero; how another thread wakes a thread
    /// waiting in <c>epoll_wait</c> (write 8 bytes to wake, read 8 bytes to reset).
    /// </summary>
    [LibraryImport(Libc, EntryPoint = "eventfd", SetLastError = true)]
    internal static partial SafeFileDescriptor EventFd(uint initialValue, int flags);

    /// <summary><c>EFD_CLOEXEC</c>.</summary>
    internal const int EFD_CLOEXEC = 0x80000;

    /// <summary><c>EFD_NONBLOCK</c>: reading a zero counter fails with EAGAIN instead of blocking.</summary>
    internal const int EFD_NONBLOCK = 0x800;
}
