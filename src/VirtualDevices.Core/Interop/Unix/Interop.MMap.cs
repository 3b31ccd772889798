namespace VirtualDevices.Interop;

internal static partial class Unix
{
    /// <summary><c>PROT_READ</c>: the pages may be read.</summary>
    internal const int PROT_READ = 0x1;

    /// <summary><c>PROT_WRITE</c>: the pages may be written.</summary>
    internal const int PROT_WRITE = 0x2;

    /// <summary><c>MAP_SHARED</c>: writes reach the object (and, for Xen's grant devices, the other domain).</summary>
    internal const int MAP_SHARED = 0x1;

    /// <summary><c>MAP_FAILED</c>: <c>(void*)-1</c>.</summary>
    internal static readonly IntPtr MAP_FAILED = new(-1);

    /// <summary><c>mmap(2)</c>; the offset is a 64-bit <c>off_t</c> on every 64-bit Linux and on macOS.</summary>
    [LibraryImport(Libc, EntryPoint = "mmap", SetLastError = true)]
    internal static partial IntPtr MMap(IntPtr address, nuint length, int protection, int flags, SafeFileDescriptor fd, long offset);

    /// <summary><c>munmap(2)</c>.</summary>
    [LibraryImport(Libc, EntryPoint = "munmap", SetLastError = true)]
    internal static partial int MUnmap(IntPtr address, nuint length);
}
