namespace VirtualDevices.Interop;

internal static partial class Unix
{
    [LibraryImport(Libc, EntryPoint = "fsync", SetLastError = true)]
    internal static partial int FSync(SafeFileDescriptor fd);
}
