namespace VirtualDevices.Interop;

internal static partial class Unix
{
    /// <summary>
    /// <c>shutdown(2)</c>: wakes a thread blocked in <c>read</c> on a socket descriptor, which closing the descriptor
    /// alone does not do on Linux. Fails with ENOTSOCK on a character device, which callers ignore.
    /// </summary>
    [LibraryImport(Libc, EntryPoint = "shutdown", SetLastError = true)]
    internal static partial int Shutdown(SafeFileDescriptor fd, int how);

    /// <summary><c>SHUT_RDWR</c>, the same on Linux and macOS.</summary>
    internal const int SHUT_RDWR = 2;
}
