using Microsoft.Win32.SafeHandles;

namespace VirtualDevices.Interop;

internal static partial class Unix
{
    /// <summary><c>posix_fadvise(2)</c> (Linux; not on macOS): returns an error number instead of setting errno.</summary>
    [LibraryImport(Libc, EntryPoint = "posix_fadvise")]
    internal static partial int FAdvise(SafeFileHandle fd, long offset, long length, int advice);

    /// <summary>Linux <c>POSIX_FADV_DONTNEED</c>: drop the range's clean pages from the page cache.</summary>
    internal const int POSIX_FADV_DONTNEED = 4;
}
