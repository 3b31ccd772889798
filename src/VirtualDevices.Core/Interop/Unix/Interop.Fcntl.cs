namespace VirtualDevices.Interop;

internal static partial class Unix
{
    /// <summary><c>F_DUPFD_CLOEXEC</c>: a duplicate at the lowest free number from the argument on, close-on-exec.</summary>
    internal const int F_DUPFD_CLOEXEC = 1030;

    [LibraryImport(Libc, EntryPoint = "fcntl", SetLastError = true)]
    internal static partial int Fcntl(SafeFileDescriptor fd, int command, int argument);
}
