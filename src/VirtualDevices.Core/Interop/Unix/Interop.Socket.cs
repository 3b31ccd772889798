namespace VirtualDevices.Interop;

internal static partial class Unix
{
    /// <summary><c>socket(2)</c>: here an AF_INET datagram socket that carries the interface ioctls.</summary>
    [LibraryImport(Libc, EntryPoint = "socket", SetLastError = true)]
    internal static partial SafeFileDescriptor Socket(int domain, int type, int protocol);
}
