namespace VirtualDevices.Block;

/// <summary>
/// A RAM disk. Storage is allocated lazily in 1 MiB pages, so a large, mostly empty disk costs little; trimming or
/// zeroing a whole page frees it, and unallocated pages are reported as holes that read as zeroes.
/// </summary>
public sealed class MemoryBlockDevice : BlockDevice
{
    private const int PageShift = 20;
    private const int PageSize = 1 << PageShift;
    private readonly byte[]?[] _pages;

    /// <summary>Creates an empty (all-zero) RAM disk.</summary>
    /// <param name="sizeBytes">Size in bytes; a whole number of sectors.</param>
    /// <param name="sectorSize">Bytes per sector (default 512).</param>
    /// <param name="name">The device's name, or null for <c>memN</c>.</param>
    /// <param name="readOnly">Refuse writes (useful only to test read-only handling).</param>
    public MemoryBlockDevice(long sizeBytes, int sectorSize = 512, string? name = null, bool readOnly = false)
        : base(name, "memory", "memory", CreateInfo(sizeBytes, sectorSize, readOnly))
    {
        _pages = new byte[]?[(sizeBytes + PageSize - 1) >> PageShift];
    }

    /// <summary>Bytes of storage currently allocated.</summary>
    public long AllocatedBytes
    {
        get
        {
            long pages = 0;
            foreach (byte[]? page in _pages)
            {
                pages += page is null ? 0 : 1;
            }

            return pages * PageSize;
        }
    }

    private static BlockDeviceInfo CreateInfo(long sizeBytes, int sectorSize, bool readOnly)
    {
        if (sectorSize <= 0 || sizeBytes < 0 || sizeBytes % sectorSize != 0)
        {
            throw new ArgumentException($"The size {sizeBytes} is not a whole number of {sectorSize}-byte sectors.", nameof(sizeBytes));
        }

        if (sizeBytes > (long)Array.MaxLength << PageShift)
        {
            throw new ArgumentOutOfRangeException(nameof(sizeBytes), sizeBytes, "The RAM disk is too large.");
        }

        BlockFeatures features = BlockFeatures.Flush | BlockFeatures.ForceUnitAccess | BlockFeatures.Trim | BlockFeatures.WriteZeroes
            | BlockFeatures.FastZero | BlockFeatures.AllocationStatus | BlockFeatures.MultiConnection;
        return new BlockDeviceInfo(sectorSize, sizeBytes / sectorSize, readOnly, features)
        {
            PreferredTransferSize = Math.Max(sectorSize, 4096),
        };
    }

    /// <inheritdoc/>
    protected override ValueTask ReadCoreAsync(long offset, Memory<byte> buffer, CancellationToken cancellationToken)
    {
        Span<byte> destination = buffer.Span;
        while (!destination.IsEmpty)
        {
            int inPage = (int)(offset & (PageSize - 1));
            int n = Math.Min(destination.Length, PageSize - inPage);
            byte[]? page = Volatile.Read(ref _pages[offset >> PageShift]);
            if (page is null)
            {
                destination[..n].Clear();
            }
            else
            {
                page.AsSpan(inPage, n).CopyTo(destination);
            }

            destination = destination[n..];
            offset += n;
        }

        return default;
    }

    /// <inheritdoc/>
    protected override ValueTask WriteCoreAsync(long offset, ReadOnlyMemory<byte> buffer, BlockWriteOptions options, CancellationToken cancellationToken)
    {
        ReadOnlySpan<byte> source = buffer.Span;
        while (!source.IsEmpty)
        {
            int inPage = (int)(offset & (PageSize - 1));
            int n = Math.Min(source.Length, PageSize - inPage);
            source[..n].CopyTo(GetOrAllocatePage(offset >> PageShift).AsSpan(inPage, n));
            source = source[n..];
            offset += n;
        }

        return default;
    }

    /// <inheritdoc/>
    protected override ValueTask FlushCoreAsync(CancellationToken cancellationToken) => default;

    /// <inheritdoc/>
    protected override ValueTask TrimCoreAsync(long offset, long length, CancellationToken cancellationToken)
    {
        Zero(offset, length);
        return default;
    }

    /// <inheritdoc/>
    protected override ValueTask WriteZeroesCoreAsync(long offset, long length, WriteZeroesOptions options, CancellationToken cancellationToken)
    {
        Zero(offset, length);
        return default;
    }

    /// <inheritdoc/>
    protected override ValueTask<int> GetAllocationCoreAsync(long sector, long count, Memory<BlockExtent> extents, CancellationToken cancellationToken) =>
        new(FillExtents(this, sector, count, extents.Span, static (device, current, end) => device.NextRun(current, end)));

    /// <summary>The run of sectors from <paramref name="current"/> (before <paramref name="end"/>) whose pages are all allocated, or all not.</summary>
    private (long End, BlockExtentFlags Flags) NextRun(long current, long end)
    {
        int sectorSize = Info.SectorSize;
        bool allocated = _pages[current * sectorSize >> PageShift] is not null;
        long runEnd = current;
        while (runEnd < end)
        {
            long index = runEnd * sectorSize >> PageShift;
            if ((_pages[index] is not null) != allocated)
            {
                break;
            }

            runEnd = Math.Min(end, ((index + 1) << PageShift) / sectorSize);
        }

        return (runEnd, allocated ? BlockExtentFlags.Data : BlockExtentFlags.Hole | BlockExtentFlags.Zero);
    }

    private byte[] GetOrAllocatePage(long index)
    {
        byte[]? page = Volatile.Read(ref _pages[index]);
        if (page is not null)
        {
            return page;
        }

        byte[] fresh = new byte[PageSize];
        return Interlocked.CompareExchange(ref _pages[index], fresh, null) ?? fresh;
    }

    private void Zero(long offset, long length)
    {
        while (length > 0)
        {
            long index = offset >> PageShift;
            int inPage = (int)(offset & (PageSize - 1));
            int n = (int)Math.Min(length, PageSize - inPage);
            if (n == PageSize)
            {
                Volatile.Write(ref _pages[index], null);
            }
            else
            {
                Volatile.Read(ref _pages[index])?.AsSpan(inPage, n).Clear();
            }

            offset += n;
            length -= n;
        }
    }
}
