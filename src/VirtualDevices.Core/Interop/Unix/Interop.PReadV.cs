namespace VirtualDevices.Interop;

internal static partial class Unix
{
    [LibraryImport(Libc, EntryPoint = "preadv", SetLastError = true)]
    internal static unsafe partial nint PReadV(SafeFileDescriptor fd, IOVector* vectors, int count, long offset);
}
