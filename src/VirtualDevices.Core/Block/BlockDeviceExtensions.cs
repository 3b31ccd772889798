using System.Buffers;
using System.Runtime.CompilerServices;

namespace VirtualDevices.Block;

/// <summary>Whole-range operations built on <see cref="IBlockDevice"/>: streaming reads and copies to and from streams.</summary>
public static class BlockDeviceExtensions
{
    /// <summary>The transfer size used by the copies when the device states no preference.</summary>
    public const int DefaultTransferSize = 1 << 20;

    /// <summary>The most transfers the streaming operations keep in flight.</summary>
    public const int MaximumRequestsInFlight = 32;

    /// <summary>The most bytes the streaming operations keep in flight.</summary>
    public const int MaximumWindowBytes = 8 << 20;

    /// <summary>
    /// Reads a range as a stream of <see cref="BlockData"/> objects of at most <paramref name="chunkSectors"/> sectors.
    /// Reads run ahead of the consumer (a few megabytes, at most 32 objects), so a network device is not waited on
    /// one round trip per object; a consumer that stops early leaves no read behind.
    /// </summary>
    /// <param name="device">The device.</param>
    /// <param name="sector">The first sector.</param>
    /// <param name="count">The number of sectors.</param>
    /// <param name="chunkSectors">Sectors per object.</param>
    /// <param name="cancellationToken">Stops reading; the current chunk is abandoned.</param>
    public static async IAsyncEnumerable<BlockData> ReadSectorsAsync(this IBlockDevice device, long sector, long count, int chunkSectors,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(device);
        ArgumentOutOfRangeException.ThrowIfLessThan(chunkSectors, 1);
        CheckRange(device, sector, count);
        int sectorSize = device.Info.SectorSize;

        // Each object keeps its own array: it leaves with the object.
        await foreach ((long at, byte[] chunk, int length) in ReadAheadAsync(device, sector, count, chunkSectors, pooled: false, cancellationToken).ConfigureAwait(false))
        {
            yield return new BlockData(device.Name, at, sectorSize, chunk);
        }
    }

    /// <summary>
    /// Copies a range of sectors to a stream, with several reads in flight (so that a network device streams rather
    /// than waits a round trip per transfer). A stream is written strictly in order; a seekable file is written
    /// from its current position, each transfer at its offset as soon as it arrives, and its position ends after
    /// the range.
    /// </summary>
    /// <param name="device">The device.</param>
    /// <param name="sector">The first sector.</param>
    /// <param name="count">The number of sectors.</param>
    /// <param name="destination">Where the bytes go.</param>
    /// <param name="progress">Told the number of bytes copied so far, after each transfer.</param>
    /// <param name="cancellationToken">Stops the copy.</param>
    /// <returns>The number of bytes copied.</returns>
    public static async ValueTask<long> CopyToAsync(this IBlockDevice device, long sector, long count, Stream destination,
        IProgress<long>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(device);
        ArgumentNullException.ThrowIfNull(destination);
        CheckRange(device, sector, count);
        if (destination is FileStream { CanSeek: true, CanWrite: true } file)
        {
            return await CopyToFileAsync(device, sector, count, file, progress, cancellationToken).ConfigureAwait(false);
        }

        long copied = 0;
        await foreach ((_, byte[] buffer, int length) in ReadAheadAsync(device, sector, count, TransferSectors(device.Info), pooled: true, cancellationToken).ConfigureAwait(false))
        {
            try
            {
                if (destination is FileStream { IsAsync: false })
                {
                    // A synchronous file's WriteAsync only moves the same blocking write to another thread: writing
                    // here saves that hop, and copies the data into the page cache from the thread that has it.
                    destination.Write(buffer, 0, length);
                }
                else
                {
                    await destination.WriteAsync(buffer.AsMemory(0, length), cancellationToken).ConfigureAwait(false);
                }
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(buffer);
            }

            copied += length;
            progress?.Report(copied);
        }

        return copied;
    }

    /// <summary>
    /// The copy to a file: several transfers in flight, each written at its own offset as soon as it arrives, from the
    /// thread that received it when the device allows (<see cref="IInlineCompletionReader"/>). Copying data into the
    /// page cache straight after it arrived, while it is still in that core's cache, is several times faster than
    /// copying it later, in order, from another thread. The stream's position ends after the range, as if written.
    /// </summary>
    private static async ValueTask<long> CopyToFileAsync(IBlockDevice device, long sector, long count, FileStream file, IProgress<long>? progress,
        CancellationToken cancellationToken)
    {
        file.Flush();
        Microsoft.Win32.SafeHandles.SafeFileHandle handle = file.SafeFileHandle;
        long start = file.Position;
        int sectorSize = device.Info.SectorSize;

        // Sized first (sparse), as nbdcopy does: a write that extends a file makes the file system update its size,
        // in its journal, every time; writes inside the file do not.
        long end = start + (count * sectorSize);
        try
        {
            if (file.Length < end)
            {
                file.SetLength(end);
            }
        }
        catch (IOException)
        {
            // Not a regular file (a device node, say): it has the size it has.
        }

        int chunkSectors = TransferSectors(device.Info);
        long chunks = (count / chunkSectors) + (count % chunkSectors != 0 ? 1 : 0);
        long next = -1;
        long copied = 0;
        var inline = device as IInlineCompletionReader;
        int depth = Depth(chunkSectors, sectorSize, count);
        var writeBehind = new PageCacheWriteBehind(handle, start, chunkSectors * sectorSize, lagChunks: 2 * depth);
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        object progressGate = new();

        // Each worker owns one buffer and does read, write, read, ...; they run side by side.
        async Task WorkerAsync()
        {
            byte[] buffer = ArrayPool<byte>.Shared.Rent(chunkSectors * sectorSize);
            try
            {
                long index;
                while ((index = Interlocked.Increment(ref next)) < chunks)
                {
                    long at = sector + (index * chunkSectors);
                    Memory<byte> chunk = buffer.AsMemory(0, (int)Math.Min(chunkSectors, sector + count - at) * sectorSize);
                    await (inline is null ? device.ReadAsync(at, chunk, stop.Token) : inline.ReadCompletingInlineAsync(at, chunk, stop.Token)).ConfigureAwait(false);
                    if (!device.IsConnected)
                    {
                        throw new DeviceDisconnectedException(device.Name);
                    }

                    long offset = start + ((at - sector) * sectorSize);
                    RandomAccess.Write(handle, chunk.Span, offset);
                    writeBehind.Written(index, offset, chunk.Length);
                    lock (progressGate)
                    {
                        copied += chunk.Length;
                        progress?.Report(copied);
                    }
                }
            }
            catch
            {
                // The others stop too; every worker is awaited before its buffer goes back.
                await stop.CancelAsync().ConfigureAwait(false);
                throw;
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(buffer);
            }
        }

        Task[] workers = new Task[depth];
        for (int i = 0; i < workers.Length; i++)
        {
            workers[i] = WorkerAsync();
        }

        try
        {
            await Task.WhenAll(workers).ConfigureAwait(false);
        }
        catch when (!cancellationToken.IsCancellationRequested
            && workers.Where(w => w.IsFaulted).SelectMany(w => w.Exception!.InnerExceptions).FirstOrDefault(e => e is not OperationCanceledException) is { } cause)
        {
            // The failure that stopped the copy, not a cancellation it caused in another worker.
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(cause);
        }

        file.Position = start + copied;
        return copied;
    }

    /// <summary>
    /// Writes a stream to the device from <paramref name="sector"/> on, with several writes in flight. The stream's
    /// length must be a whole number of sectors and fit the device; this is checked before anything is written when
    /// the stream can seek, and otherwise a trailing partial sector fails with <see cref="BlockMisalignedException"/>
    /// without being written.
    /// </summary>
    /// <param name="device">The device.</param>
    /// <param name="sector">The first sector.</param>
    /// <param name="source">The bytes to write.</param>
    /// <param name="options">Force unit access for every write.</param>
    /// <param name="progress">Told the number of bytes written so far (counted in order: a write reported is one that
    /// completed, with every write before it).</param>
    /// <param name="cancellationToken">Stops the copy; what was written stays written.</param>
    /// <returns>The number of bytes written.</returns>
    public static async ValueTask<long> WriteFromAsync(this IBlockDevice device, long sector, Stream source, BlockWriteOptions options = BlockWriteOptions.None,
        IProgress<long>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(device);
        ArgumentNullException.ThrowIfNull(source);
        int sectorSize = device.Info.SectorSize;
        long remaining = long.MaxValue;
        if (source.CanSeek)
        {
            remaining = source.Length - source.Position;
            if (BlockRange.CheckAligned(device.Name, "input length", remaining, sectorSize) is { } misaligned)
            {
                throw misaligned;
            }

            CheckRange(device, sector, remaining / sectorSize);
        }

        int chunkSectors = TransferSectors(device.Info);
        int chunk = chunkSectors * sectorSize;
        var window = new BlockTransferWindow(device, cancellationToken, Depth(chunkSectors, sectorSize, remaining / sectorSize));
        long written = 0;
        try
        {
            bool ended = false;
            while (true)
            {
                while (!ended && window.HasRoom)
                {
                    byte[] buffer = window.RentBuffer(chunk);
                    int filled;
                    try
                    {
                        filled = await source.ReadAtLeastAsync(buffer.AsMemory(0, chunk), chunk, throwOnEndOfStream: false, cancellationToken).ConfigureAwait(false);
                    }
                    catch
                    {
                        window.ReturnBuffer(buffer);
                        throw;
                    }

                    if (BlockRange.CheckAligned(device.Name, "input length", written + window.Bytes + filled, sectorSize) is { } misaligned)
                    {
                        // Bad input, not a failure of the device: the whole sectors before it are written, as they
                        // would have been one at a time; only the partial one is not.
                        window.ReturnBuffer(buffer);
                        while (!window.IsEmpty)
                        {
                            (_, byte[] completed, int completedLength) = await window.CompleteOldestAsync().ConfigureAwait(false);
                            window.ReturnBuffer(completed);
                            written += completedLength;
                            progress?.Report(written);
                        }

                        throw misaligned;
                    }

                    if (filled == 0)
                    {
                        window.ReturnBuffer(buffer);
                        ended = true;
                        break;
                    }

                    window.Write(sector, buffer, filled, options, rented: true);
                    sector += filled / sectorSize;
                }

                if (window.IsEmpty)
                {
                    return written;
                }

                (_, byte[] done, int length) = await window.CompleteOldestAsync().ConfigureAwait(false);
                window.ReturnBuffer(done);
                written += length;
                progress?.Report(written);
            }
        }
        finally
        {
            await window.AbandonAsync().ConfigureAwait(false);
        }
    }

    /// <summary>
    /// The allocation map of a range, as consecutive runs with adjacent runs of the same state merged; devices without
    /// allocation status report the whole range as data.
    /// </summary>
    /// <param name="device">The device.</param>
    /// <param name="sector">The first sector.</param>
    /// <param name="count">The number of sectors.</param>
    /// <param name="cancellationToken">Stops the walk.</param>
    public static async IAsyncEnumerable<BlockAllocationExtent> GetAllocationMapAsync(this IBlockDevice device, long sector, long count,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(device);
        CheckRange(device, sector, count);
        var extents = new BlockExtent[256];
        BlockExtent? pending = null;
        for (long current = sector, end = sector + count; current < end;)
        {
            int n = await device.GetAllocationAsync(current, end - current, extents, cancellationToken).ConfigureAwait(false);
            if (n <= 0)
            {
                throw new DeviceUnknownException(device.Name, $"the device described no allocation at sector {current}.");
            }

            for (int i = 0; i < n; i++)
            {
                BlockExtent extent = extents[i];
                // A device that answers outside the range asked about is clipped, never trusted beyond it.
                long start = Math.Max(extent.Sector, current);
                long stop = Math.Min(extent.Sector + extent.Count, end);
                if (start != current || stop <= start)
                {
                    throw new DeviceUnknownException(device.Name, $"the device's allocation map is not contiguous at sector {current}.");
                }

                if (pending is { } p && p.Flags == extent.Flags)
                {
                    pending = p with { Count = p.Count + (stop - start) };
                }
                else
                {
                    if (pending is { } done)
                    {
                        yield return new BlockAllocationExtent(device.Name, done.Sector, done.Count, device.Info.SectorSize, done.Flags);
                    }

                    pending = new BlockExtent(start, stop - start, extent.Flags);
                }

                current = stop;
            }
        }

        if (pending is { } last)
        {
            yield return new BlockAllocationExtent(device.Name, last.Sector, last.Count, device.Info.SectorSize, last.Flags);
        }
    }

    /// <summary>
    /// Reads a range in chunks of <paramref name="chunkSectors"/>, several in flight, and yields them in order. Pooled
    /// buffers (rented from the shared pool, chunk-sized) are the consumer's to return once yielded; otherwise each
    /// chunk is an array of its own, exactly its size. Read-ahead data is not handed out once the device was
    /// disconnected: the stream ends as it would have without read-ahead.
    /// </summary>
    private static async IAsyncEnumerable<(long Sector, byte[] Buffer, int Length)> ReadAheadAsync(IBlockDevice device, long sector, long count,
        int chunkSectors, bool pooled, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        int sectorSize = device.Info.SectorSize;
        var window = new BlockTransferWindow(device, cancellationToken, Depth(chunkSectors, sectorSize, count));
        try
        {
            long next = sector;
            long end = sector + count;
            while (true)
            {
                while (next < end && window.HasRoom)
                {
                    int n = (int)Math.Min(chunkSectors, end - next);
                    byte[] buffer = pooled ? window.RentBuffer(chunkSectors * sectorSize) : GC.AllocateUninitializedArray<byte>(checked(n * sectorSize));
                    window.Read(next, buffer, n * sectorSize, rented: pooled);
                    next += n;
                }

                if (window.IsEmpty)
                {
                    yield break;
                }

                (long at, byte[] chunk, int length) = await window.CompleteOldestAsync().ConfigureAwait(false);
                if (!device.IsConnected)
                {
                    if (pooled)
                    {
                        window.ReturnBuffer(chunk);
                    }

                    throw new DeviceDisconnectedException(device.Name);
                }

                yield return (at, chunk, length);
            }
        }
        finally
        {
            await window.AbandonAsync().ConfigureAwait(false);
        }
    }

    /// <summary>
    /// How many transfers of <paramref name="chunkSectors"/> to keep in flight: enough to cover a network round trip
    /// (8 of 1 MiB), at most 8 MiB and 32 transfers, and never more than the range has.
    /// </summary>
    private static int Depth(int chunkSectors, int sectorSize, long count)
    {
        long chunks = Math.Max(1, (count / chunkSectors) + (count % chunkSectors != 0 ? 1 : 0));
        long bytesBound = Math.Max(1, MaximumWindowBytes / ((long)chunkSectors * sectorSize));
        return (int)Math.Min(Math.Min(chunks, bytesBound), MaximumRequestsInFlight);
    }

    private static int TransferSectors(BlockDeviceInfo info)
    {
        int size = info.MaximumTransferSize > 0 ? Math.Min(info.MaximumTransferSize, DefaultTransferSize) : DefaultTransferSize;
        return Math.Max(1, size / info.SectorSize);
    }

    private static void CheckRange(IBlockDevice device, long sector, long count)
    {
        if (BlockRange.Check(device.Name, sector, count, device.Info.SectorCount) is { } error)
        {
            throw error;
        }
    }
}
