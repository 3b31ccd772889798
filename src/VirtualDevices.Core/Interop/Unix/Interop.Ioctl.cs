namespace VirtualDevices.Interop;

internal static partial class Unix
{
    /// <summary>The request number is an <c>unsigned long</c> in glibc's prototype.</summary>
    [LibraryImport(Libc, EntryPoint = "ioctl", SetLastError = true)]
    internal static unsafe partial int Ioctl(SafeFileDescriptor fd, nuint request, void* argument);
}
