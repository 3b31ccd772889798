namespace VirtualDevices.Interop;

internal static partial class Unix
{
    /// <summary><c>RWF_DSYNC</c>: this write alone is durable when it returns (per-request FUA). Linux 4.7+.</summary>
    internal const int RWF_DSYNC = 0x2;

    /// <summary>Linux only; absent from macOS and older C libraries (callers fall back on EntryPointNotFoundException).</summary>
    [LibraryImport(Libc, EntryPoint = "pwritev2", SetLastError = true)]
    internal static unsafe partial nint PWriteV2(SafeFileDescriptor fd, IOVector* vectors, int count, long offset, int flags);
}
