namespace VirtualDevices.Interop;

internal static partial class Unix
{
    /// <summary><c>ftruncate(2)</c>; the length is a 64-bit <c>off_t</c> on every 64-bit Linux and on macOS.</summary>
    [LibraryImport(Libc, EntryPoint = "ftruncate", SetLastError = true)]
    internal static partial int FTruncate(SafeFileDescriptor fd, long length);
}
