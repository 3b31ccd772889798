using VirtualDevices.Interop;

namespace VirtualDevices.Block;

/// <summary>
/// The advisory image lock qemu takes (block/file-posix.c, "image locking"), so that this module, qemu-nbd, qemu-img
/// and QEMU see each other: open-file-description locks (F_OFD_SETLK) on single bytes, a shared lock on byte
/// 100 + bit for each permission the opener holds and on byte 200 + bit for each permission it will not share, where
/// the bits are qemu's BLK_PERM_CONSISTENT_READ (0) and BLK_PERM_WRITE (1). A writer takes 100, 101 and 201; a reader
/// takes 100. Before that each checks (F_OFD_GETLK) that nobody holds what it would conflict with: a writer that
/// byte 101 (someone writes: qemu-nbd serving read-write holds it) and 201 (someone refuses to share writing) are
/// free, a reader that 200 is. OFD locks belong to the open file, not the process, so two opens in this process
/// conflict as two processes do; they go when the descriptor is closed. Linux only (macOS has no OFD locks), and a
/// file system without locks (ENOLCK, EINVAL) opens unlocked, as qemu does.
/// </summary>
internal static class ImageLock
{
    private const int PermissionBase = 100;
    private const int SharedBase = 200;
    private const int ConsistentRead = 0;
    private const int Write = 1;

    // 20 looks 5 ms apart: a fork's window lasts microseconds to a few milliseconds (the child execs at once).
    private const int ConflictRetries = 20;
    private const int ConflictRetryMilliseconds = 5;

    /// <summary>Checks for conflicting openers and takes the lock; throws DeviceLocked (ResourceBusy) on a conflict.</summary>
    /// <param name="fd">The open image.</param>
    /// <param name="path">Its path, for the error.</param>
    /// <param name="writable">True when it is open for writing.</param>
    public static void Acquire(SafeFileDescriptor fd, string path, bool writable)
    {
        if (!OperatingSystem.IsLinux())
        {
            return;
        }

        int[] conflicts = writable ? [PermissionBase + Write, SharedBase + Write] : [SharedBase + ConsistentRead];
        foreach (int offset in conflicts)
        {
            // A lock seen is looked at again for a moment before it counts: a child this process is starting holds
            // every open file of the process between its fork and its exec, so the lock of an image closed here a
            // moment ago can outlive its close by that much (CI saw a reopen refused so, with other tests starting
            // processes). A real other writer holds on; the wait costs only the refusal.
            Unix.Flock probe = default;
            for (int look = 0; look <= ConflictRetries; look++)
            {
                if (look > 0)
                {
                    Thread.Sleep(ConflictRetryMilliseconds);
                }

                probe = new Unix.Flock { Type = Unix.F_WRLCK, Whence = Unix.SEEK_SET, Start = offset, Length = 1 };
                if (Unix.FcntlLock(fd, Unix.F_OFD_GETLK, ref probe) != 0)
                {
                    return; // no OFD locks here (old kernel, a file system without locks): open unlocked, as qemu does
                }

                if (probe.Type == Unix.F_UNLCK)
                {
                    break;
                }
            }

            if (probe.Type != Unix.F_UNLCK)
            {
                string what = offset == PermissionBase + Write ? "open for writing" : "open by a program that does not share writing";
                throw new DeviceException(DeviceErrorIds.Device.Locked, DeviceErrorCategory.ResourceBusy,
                    $"'{path}' is {what} elsewhere (qemu-nbd, QEMU, or another device of this module): two writers would corrupt it. Close the other user, open it read-only, or override the lock (-NoLock) if you know better.",
                    path);
            }
        }

        int[] held = writable ? [PermissionBase + ConsistentRead, PermissionBase + Write, SharedBase + Write] : [PermissionBase + ConsistentRead];
        foreach (int offset in held)
        {
            var flock = new Unix.Flock { Type = Unix.F_RDLCK, Whence = Unix.SEEK_SET, Start = offset, Length = 1 };
            if (Unix.FcntlLock(fd, Unix.F_OFD_SETLK, ref flock) != 0)
            {
                int errno = Marshal.GetLastPInvokeError();
                if (errno == Unix.Errno.EAGAIN || errno == Unix.Errno.EACCES)
                {
                    // Someone took an exclusive lock on the byte between the check and now.
                    throw new DeviceException(DeviceErrorIds.Device.Locked, DeviceErrorCategory.ResourceBusy, $"'{path}' was locked by another program while it was being opened.", path);
                }

                return;
            }
        }
    }
}
