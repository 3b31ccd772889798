namespace VirtualDevices.Interop;

internal static partial class Unix
{
    [LibraryImport(Libc, EntryPoint = "pwrite", SetLastError = true)]
    internal static unsafe partial nint PWrite(SafeFileDescriptor fd, byte* buffer, nuint count, long offset);
}
