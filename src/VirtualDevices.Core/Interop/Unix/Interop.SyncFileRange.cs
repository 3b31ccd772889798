using Microsoft.Win32.SafeHandles;

namespace VirtualDevices.Interop;

internal static partial class Unix
{
    /// <summary><c>sync_file_range(2)</c> (Linux only): starts, or waits for, the write-back of a range of a file.</summary>
    [LibraryImport(Libc, EntryPoint = "sync_file_range", SetLastError = true)]
    internal static partial int SyncFileRange(SafeFileHandle fd, long offset, long count, uint flags);

    /// <summary><c>SYNC_FILE_RANGE_WAIT_BEFORE</c>: wait for write-back already under way in the range.</summary>
    internal const uint SYNC_FILE_RANGE_WAIT_BEFORE = 1;

    /// <summary><c>SYNC_FILE_RANGE_WRITE</c>: start write-back of the range's dirty pages.</summary>
    internal const uint SYNC_FILE_RANGE_WRITE = 2;

    /// <summary><c>SYNC_FILE_RANGE_WAIT_AFTER</c>: wait for the write-back just started.</summary>
    internal const uint SYNC_FILE_RANGE_WAIT_AFTER = 4;
}
