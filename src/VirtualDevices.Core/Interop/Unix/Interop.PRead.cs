namespace VirtualDevices.Interop;

internal static partial class Unix
{
    [LibraryImport(Libc, EntryPoint = "pread", SetLastError = true)]
    internal static unsafe partial nint PRead(SafeFileDescriptor fd, byte* buffer, nuint count, long offset);
}
