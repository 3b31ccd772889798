using System.Buffers;
using System.Runtime.CompilerServices;

namespace VirtualDevices.Block;

/// <summary>Whole-range operations built on <see cref="IBlockDevice"/>: streaming reads and copies to and from streams.</summary>
public static class BlockDeviceExtensions
{
    /// <summary>The transfer size used by the copies when the device states no preference.</summary>
    public const int DefaultTransferSize = 1 << 20;

    /// <summary>Reads a range as a stream of <see cref="BlockData"/> objects of at most <paramref name="chunkSectors"/> sectors.</summary>
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
        int sectorSize = device.Info.SectorSize;
        CheckRange(device, sector, count);
        long end = sector + count;
        for (long current = sector; current < end;)
        {
            int n = (int)Math.Min(chunkSectors, end - current);
            byte[] data = GC.AllocateUninitializedArray<byte>(checked(n * sectorSize));
            await device.ReadAsync(current, data, cancellationToken).ConfigureAwait(false);
            yield return new BlockData(device.Name, current, sectorSize, data);
            current += n;
        }
    }

    /// <summary>Copies a range of sectors to a stream, reusing one pooled buffer.</summary>
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
        int sectorSize = device.Info.SectorSize;
        int chunkSectors = TransferSectors(device.Info);
        byte[] buffer = ArrayPool<byte>.Shared.Rent(chunkSectors * sectorSize);
        long copied = 0;
        try
        {
            for (long current = sector, end = sector + count; current < end;)
            {
                int n = (int)Math.Min(chunkSectors, end - current);
                Memory<byte> chunk = buffer.AsMemory(0, n * sectorSize);
                await device.ReadAsync(current, chunk, cancellationToken).ConfigureAwait(false);
                await destination.WriteAsync(chunk, cancellationToken).ConfigureAwait(false);
                current += n;
                copied += chunk.Length;
                progress?.Report(copied);
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }

        return copied;
    }

    /// <summary>
    /// Writes a stream to the device from <paramref name="sector"/> on. The stream's length must be a whole number of
    /// sectors and fit the device; this is checked before anything is written when the stream can seek, and otherwise
    /// a trailing partial sector fails with <see cref="BlockMisalignedException"/> without being written.
    /// </summary>
    /// <param name="device">The device.</param>
    /// <param name="sector">The first sector.</param>
    /// <param name="source">The bytes to write.</param>
    /// <param name="options">Force unit access for every write.</param>
    /// <param name="progress">Told the number of bytes written so far.</param>
    /// <param name="cancellationToken">Stops the copy; what was written stays written.</param>
    /// <returns>The number of bytes written.</returns>
    public static async ValueTask<long> WriteFromAsync(this IBlockDevice device, long sector, Stream source, BlockWriteOptions options = BlockWriteOptions.None,
        IProgress<long>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(device);
        ArgumentNullException.ThrowIfNull(source);
        int sectorSize = device.Info.SectorSize;
        if (source.CanSeek)
        {
            long remaining = source.Length - source.Position;
            if (remaining % sectorSize != 0)
            {
                throw new BlockMisalignedException(device.Name, $"input length {remaining}", sectorSize);
            }

            CheckRange(device, sector, remaining / sectorSize);
        }

        int chunkSectors = TransferSectors(device.Info);
        byte[] buffer = ArrayPool<byte>.Shared.Rent(chunkSectors * sectorSize);
        long written = 0;
        try
        {
            while (true)
            {
                int filled = await source.ReadAtLeastAsync(buffer.AsMemory(0, chunkSectors * sectorSize), chunkSectors * sectorSize, throwOnEndOfStream: false, cancellationToken).ConfigureAwait(false);
                if (filled == 0)
                {
                    break;
                }

                if (filled % sectorSize != 0)
                {
                    throw new BlockMisalignedException(device.Name, $"input length {written + filled}", sectorSize);
                }

                await device.WriteAsync(sector, buffer.AsMemory(0, filled), options, cancellationToken).ConfigureAwait(false);
                sector += filled / sectorSize;
                written += filled;
                progress?.Report(written);
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }

        return written;
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

    private static int TransferSectors(BlockDeviceInfo info)
    {
        int size = info.MaximumTransferSize > 0 ? Math.Min(info.MaximumTransferSize, DefaultTransferSize) : DefaultTransferSize;
        return Math.Max(1, size / info.SectorSize);
    }

    private static void CheckRange(IBlockDevice device, long sector, long count)
    {
        long total = device.Info.SectorCount;
        if (sector < 0 || count < 0 || sector > total || count > total - sector)
        {
            throw new BlockOutOfRangeException(device.Name, sector, count, total);
        }
    }
}
