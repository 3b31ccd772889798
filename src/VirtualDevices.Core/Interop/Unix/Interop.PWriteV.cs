namespace VirtualDevices.Interop;

internal static partial class Unix
{
    [LibraryImport(Libc, EntryPoint = "pwritev", SetLastError = true)]
    internal static unsafe partial nint PWriteV(SafeFileDescriptor fd, IOVector* vectors, int count, long offset);
}
