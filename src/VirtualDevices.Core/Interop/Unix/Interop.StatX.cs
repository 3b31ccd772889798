namespace VirtualDevices.Interop;

internal static partial class Unix
{
    /// <summary><c>AT_FDCWD</c>: a relative path is resolved against the working directory.</summary>
    internal const int AT_FDCWD = -100;

    /// <summary><c>AT_SYMLINK_NOFOLLOW</c>: describe a symbolic link itself, as <c>lstat</c> does.</summary>
    internal const int AT_SYMLINK_NOFOLLOW = 0x100;

    /// <summary><c>STATX_TYPE</c>: the file type bits of <c>stx_mode</c>.</summary>
    internal const uint STATX_TYPE = 0x1;

    /// <summary><c>STATX_INO</c>: <c>stx_ino</c>.</summary>
    internal const uint STATX_INO = 0x100;

    /// <summary><c>S_IFMT</c>: the mask of the file type bits of a mode.</summary>
    internal const int S_IFMT = 0xF000;

    /// <summary><c>S_IFSOCK</c>: the file is a socket.</summary>
    internal const int S_IFSOCK = 0xC000;

    /// <summary><c>S_IFLNK</c>: a symbolic link.</summary>
    internal const int S_IFLNK = 0xA000;

    /// <summary><c>S_IFREG</c>: a regular file.</summary>
    internal const int S_IFREG = 0x8000;

    /// <summary><c>S_IFBLK</c>: a block device node.</summary>
    internal const int S_IFBLK = 0x6000;

    /// <summary><c>S_IFDIR</c>: a directory.</summary>
    internal const int S_IFDIR = 0x4000;

    /// <summary><c>S_IFCHR</c>: a character device node.</summary>
    internal const int S_IFCHR = 0x2000;

    /// <summary><c>S_IFIFO</c>: a fifo.</summary>
    internal const int S_IFIFO = 0x1000;

    /// <summary>
    /// <c>struct statx</c> (Linux 4.11, glibc 2.28), of which only the fields read here are named. Unlike
    /// <c>struct stat</c> its layout is the same on every architecture (256 bytes), so one declaration serves x86-64
    /// and arm64; the C header test checks the offsets.
    /// </summary>
    [StructLayout(LayoutKind.Explicit, Size = 256)]
    internal struct StatX
    {
        [FieldOffset(0)] public uint Mask;
        [FieldOffset(28)] public ushort Mode;
        [FieldOffset(32)] public ulong Inode;
        [FieldOffset(136)] public uint DeviceMajor;
        [FieldOffset(140)] public uint DeviceMinor;
    }

    /// <summary>Linux only (<c>statx</c>): describes <paramref name="path"/>; with <see cref="AT_SYMLINK_NOFOLLOW"/>, as <c>lstat</c>.</summary>
    [LibraryImport(Libc, EntryPoint = "statx", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    internal static partial int StatXPath(int directoryFd, string path, int flags, uint mask, out StatX result);
}
