namespace VirtualDevices.Interop;

internal static partial class Unix
{
    [LibraryImport(Libc, EntryPoint = "fdatasync", SetLastError = true)]
    internal static partial int FDataSync(SafeFileDescriptor fd);
}
