namespace VirtualDevices.Interop;

internal static partial class Unix
{
    /// <summary>Tests for a conflicting open-file-description lock (Linux 3.15+).</summary>
    internal const int F_OFD_GETLK = 36;

    /// <summary>Sets an open-file-description lock without waiting.</summary>
    internal const int F_OFD_SETLK = 37;

    /// <summary>A shared (read) lock.</summary>
    internal const short F_RDLCK = 0;

    /// <summary>An exclusive (write) lock.</summary>
    internal const short F_WRLCK = 1;

    /// <summary>No lock (what F_OFD_GETLK answers when nothing conflicts).</summary>
    internal const short F_UNLCK = 2;

    /// <summary>struct flock (Linux, 64-bit off_t): l_type, l_whence, l_start, l_len, l_pid.</summary>
    [StructLayout(LayoutKind.Sequential)]
    internal struct Flock
    {
        public short Type;
        public short Whence;
        public long Start;
        public long Length;
        public int Pid;
    }

    /// <summary>fcntl with a struct flock argument (F_OFD_GETLK, F_OFD_SETLK).</summary>
    [LibraryImport(Libc, EntryPoint = "fcntl", SetLastError = true)]
    internal static partial int FcntlLock(SafeFileDescriptor fd, int command, ref Flock flock);
}
