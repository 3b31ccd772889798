using Microsoft.Win32.SafeHandles;
using VirtualDevices.Interop;

namespace VirtualDevices.Block;

/// <summary>
/// Keeps a long copy into a file from filling the page cache (Linux): each chunk written is sent to the disk at once,
/// and chunks written a while ago, once on the disk, are dropped from the cache. nbdcopy does the same. A copy then
/// evicts nothing else from the cache, and it is faster too: the pages it writes into are the ones it just freed,
/// still in the processor's cache, where a copy that keeps every page has the kernel find fresh memory for each.
/// Everything here is advice: a file system that refuses it (tmpfs, say) is simply copied to the plain way.
/// </summary>
internal sealed class PageCacheWriteBehind(SafeFileHandle file, long start, int chunkBytes, int lagChunks)
{
    private readonly bool _enabled = OperatingSystem.IsLinux();

    /// <summary>Chunk <paramref name="index"/> (at <paramref name="offset"/>, <paramref name="length"/> bytes) was written.</summary>
    public void Written(long index, long offset, int length)
    {
        if (!_enabled)
        {
            return;
        }

        _ = Unix.SyncFileRange(file, offset, length, Unix.SYNC_FILE_RANGE_WRITE);

        // A chunk written lagChunks earlier has had time to reach the disk: wait for it, then drop it.
        long old = index - lagChunks;
        if (old >= 0)
        {
            long oldOffset = start + (old * chunkBytes);
            _ = Unix.SyncFileRange(file, oldOffset, chunkBytes,
                Unix.SYNC_FILE_RANGE_WAIT_BEFORE | Unix.SYNC_FILE_RANGE_WRITE | Unix.SYNC_FILE_RANGE_WAIT_AFTER);
            _ = Unix.FAdvise(file, oldOffset, chunkBytes, Unix.POSIX_FADV_DONTNEED);
        }
    }
}
