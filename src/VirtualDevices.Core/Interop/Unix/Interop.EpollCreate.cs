namespace VirtualDevices.Interop;

internal static partial class Unix
{
    /// <summary><c>epoll_create1(2)</c> (Linux): a new epoll instance, owned by the returned handle.</summary>
    [LibraryImport(Libc, EntryPoint = "epoll_create1", SetLastError = true)]
    internal static partial SafeFileDescriptor EpollCreate(int flags);

    /// <summary><c>EPOLL_CLOEXEC</c>: the epoll descriptor is not inherited by child processes (the tests start many).</summary>
    internal const int EPOLL_CLOEXEC = 0x80000;
}
