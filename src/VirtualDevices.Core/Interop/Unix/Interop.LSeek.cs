namespace VirtualDevices.Interop;

internal static partial class Unix
{
    internal const int SEEK_SET = 0;
    internal const int SEEK_END = 2;

    /// <summary>Next data at or after an offset. Linux 3.1+ and macOS use 3 and 4.</summary>
    internal const int SEEK_DATA = 3;

    /// <summary>Next hole at or after an offset.</summary>
    internal const int SEEK_HOLE = 4;

    [LibraryImport(Libc, EntryPoint = "lseek", SetLastError = true)]
    internal static partial long LSeek(SafeFileDescriptor fd, long offset, int whence);
}
