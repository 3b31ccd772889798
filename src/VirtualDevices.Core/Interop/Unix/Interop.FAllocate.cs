namespace VirtualDevices.Interop;

internal static partial class Unix
{
    internal const int FALLOC_FL_KEEP_SIZE = 0x01;
    internal const int FALLOC_FL_PUNCH_HOLE = 0x02;
    internal const int FALLOC_FL_ZERO_RANGE = 0x10;

    /// <summary>Linux only.</summary>
    [LibraryImport(Libc, EntryPoint = "fallocate", SetLastError = true)]
    internal static partial int FAllocate(SafeFileDescriptor fd, int mode, long offset, long length);
}
