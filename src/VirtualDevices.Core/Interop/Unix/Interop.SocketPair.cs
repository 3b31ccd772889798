namespace VirtualDevices.Interop;

internal static partial class Unix
{
    /// <summary><c>socketpair(2)</c>: two connected descriptors, for in-process peers that use the socket code path.</summary>
    [LibraryImport(Libc, EntryPoint = "socketpair", SetLastError = true)]
    internal static unsafe partial int SocketPair(int domain, int type, int protocol, int* fds);

    /// <summary><c>AF_UNIX</c>, the same on Linux and macOS.</summary>
    internal const int AF_UNIX = 1;

    /// <summary><c>SOCK_STREAM</c>, the same on Linux and macOS.</summary>
    internal const int SOCK_STREAM = 1;

    /// <summary>Linux <c>SOCK_CLOEXEC</c>, or-ed into the type; macOS has no such flag.</summary>
    internal static readonly int SOCK_CLOEXEC = OperatingSystem.IsLinux() ? 0x80000 : 0;
}
