using System.Buffers;
using VirtualDevices.Interop;

namespace VirtualDevices.Block;

/// <summary>
/// A block device backed by a regular file (a raw disk image) or a block-special file (<c>/dev/loop0</c>,
/// <c>/dev/nvme0n1</c>), through positioned syscalls on one descriptor: <c>preadv</c>/<c>pwritev</c> for scatter
/// and gather, <c>fdatasync</c> for flush, <c>pwritev2(RWF_DSYNC)</c> for FUA, <c>fallocate</c> or the
/// <c>BLKDISCARD</c>/<c>BLKZEROOUT</c> ioctls for trim and zeroing, and <c>SEEK_DATA</c>/<c>SEEK_HOLE</c> for
/// allocation status.
/// </summary>
/// <remarks>
/// The size is read once, at open. A regular file's trailing bytes that do not fill a sector are not part of the
/// device. If the file shrinks while open, reads past its new end fail with <see cref="BlockIOException"/> rather
/// than returning zeroes that were never written.
/// </remarks>
public sealed class FileBlockDevice : BlockDevice
{
    /// <summary>Alignment that satisfies O_DIRECT on every Linux file system and device.</summary>
    private const int DirectAlignment = 4096;

    /// <summary>The largest bounce buffer used for unaligned O_DIRECT transfers.</summary>
    private const int BounceSize = 1 << 20;

    private readonly SafeFileDescriptor _fd;
    private readonly bool _isBlockSpecial;
    private readonly bool _direct;
    private int _fuaMode; // 0 untried, 1 pwritev2 works, 2 emulate with fdatasync

    private FileBlockDevice(SafeFileDescriptor fd, string path, FileBlockDeviceOptions options, BlockDeviceInfo info, bool isBlockSpecial)
        : base(options.Name, "file", path, info)
    {
        _fd = fd;
        _isBlockSpecial = isBlockSpecial;
        _direct = options.Direct;
    }

    /// <summary>True for a block-special file, false for a regular file.</summary>
    public bool IsBlockSpecial => _isBlockSpecial;

    /// <summary>Opens a disk image or a block device.</summary>
    /// <param name="path">The file to open.</param>
    /// <param name="options">Read-only, direct I/O, sector size and name; null for defaults.</param>
    /// <exception cref="DeviceNotFoundException">The file does not exist.</exception>
    /// <exception cref="DeviceException">
    /// The file cannot be opened (permission, not a file), or another writer holds its image lock (<c>DeviceLocked</c>,
    /// ResourceBusy; <see cref="FileBlockDeviceOptions.NoLock"/> overrides).
    /// </exception>
    public static FileBlockDevice Open(string path, FileBlockDeviceOptions? options = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        options ??= new FileBlockDeviceOptions();
        string fullPath = Path.GetFullPath(path);
        if (options.Direct && options.SectorSize is < 512)
        {
            throw new ArgumentException("Direct I/O needs a sector size of at least 512 bytes.", nameof(options));
        }

        // A directory opens read-only without error and then reports a meaningless size: refuse it up front.
        if (Directory.Exists(fullPath))
        {
            throw new DeviceException(DeviceErrorIds.Device.NotBlockCapable, DeviceErrorCategory.InvalidArgument, $"'{fullPath}' is a directory.", fullPath);
        }

        int flags = (options.ReadOnly ? Unix.OpenFlags.O_RDONLY : Unix.OpenFlags.O_RDWR) | Unix.OpenFlags.O_CLOEXEC
            | (options.Direct ? Unix.OpenFlags.O_DIRECT : 0);
        SafeFileDescriptor fd = Unix.Open(fullPath, flags, 0);
        if (fd.IsInvalid)
        {
            int errno = Marshal.GetLastPInvokeError();
            fd.Dispose();
            throw OpenError(fullPath, errno);
        }

        try
        {
            if (options.Direct && OperatingSystem.IsMacOS() && Unix.Fcntl(fd, Unix.F_NOCACHE, 1) != 0)
            {
                throw OpenError(fullPath, Marshal.GetLastPInvokeError());
            }

            if (!options.NoLock)
            {
                ImageLock.Acquire(fd, fullPath, writable: !options.ReadOnly);
            }

            (long size, bool isBlockSpecial, int logicalSectorSize, bool deviceReadOnly) = Probe(fd, fullPath);
            int sectorSize = options.SectorSize ?? (isBlockSpecial ? logicalSectorSize : 512);
            if (isBlockSpecial && sectorSize < logicalSectorSize)
            {
                throw new ArgumentException($"'{fullPath}' has {logicalSectorSize}-byte logical sectors; a smaller sector size cannot be used.", nameof(options));
            }

            bool linux = OperatingSystem.IsLinux();
            BlockFeatures features = BlockFeatures.Flush | BlockFeatures.ForceUnitAccess | BlockFeatures.WriteZeroes;
            if (linux)
            {
                features |= BlockFeatures.Trim | BlockFeatures.FastZero;
            }

            if (!isBlockSpecial)
            {
                features |= BlockFeatures.AllocationStatus | BlockFeatures.MultiConnection;
            }

            var info = new BlockDeviceInfo(sectorSize, size / sectorSize, options.ReadOnly || deviceReadOnly, features)
            {
                PreferredTransferSize = Math.Max(sectorSize, DirectAlignment),
                TrailingBytes = (int)(size % sectorSize),
            };
            return new FileBlockDevice(fd, fullPath, options, info, isBlockSpecial);
        }
        catch
        {
            fd.Dispose();
            throw;
        }
    }

    /// <summary>Creates a new sparse disk image of <paramref name="sizeBytes"/> bytes and opens it.</summary>
    /// <param name="path">The file to create; it must not exist.</param>
    /// <param name="sizeBytes">The size, a whole number of sectors.</param>
    /// <param name="options">How to open it afterwards; null for defaults.</param>
    /// <exception cref="DeviceException">The file exists or cannot be created.</exception>
    public static FileBlockDevice Create(string path, long sizeBytes, FileBlockDeviceOptions? options = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        int sectorSize = options?.SectorSize ?? 512;
        if (sizeBytes <= 0 || sizeBytes % sectorSize != 0)
        {
            throw new BlockMisalignedException(options?.Name ?? path, $"image size {sizeBytes}", sectorSize);
        }

        string fullPath = Path.GetFullPath(path);
        try
        {
            using var stream = new FileStream(fullPath, FileMode.CreateNew, FileAccess.Write);
            stream.SetLength(sizeBytes);
        }
        catch (IOException e) when (File.Exists(fullPath))
        {
            throw new DeviceException(DeviceErrorIds.Device.ImageExists, DeviceErrorCategory.ResourceExists, $"'{fullPath}' already exists.", fullPath, e);
        }
        catch (UnauthorizedAccessException e)
        {
            // EACCES or EPERM (a directory that may not be written, an immutable one): an access problem, not an I/O error.
            throw new DeviceException(DeviceErrorIds.Device.AccessDenied, DeviceErrorCategory.PermissionDenied,
                $"'{fullPath}' cannot be created: permission denied. Check the permissions of '{Path.GetDirectoryName(fullPath)}'.", fullPath, e);
        }
        catch (DirectoryNotFoundException e)
        {
            throw new DeviceNotFoundException(fullPath, $"'{fullPath}' cannot be created: the directory '{Path.GetDirectoryName(fullPath)}' does not exist.", e);
        }
        catch (IOException e)
        {
            throw new BlockIOException(fullPath, "create", e.Message, 0, e);
        }

        return Open(fullPath, options);
    }

    private static unsafe (long Size, bool IsBlockSpecial, int LogicalSectorSize, bool ReadOnly) Probe(SafeFileDescriptor fd, string path)
    {
        if (OperatingSystem.IsLinux())
        {
            ulong bytes;
            if (Unix.Ioctl(fd, Unix.BlockIoctl.BLKGETSIZE64, &bytes) == 0)
            {
                int logical = 512;
                int readOnly = 0;
                _ = Unix.Ioctl(fd, Unix.BlockIoctl.BLKSSZGET, &logical);
                _ = Unix.Ioctl(fd, Unix.BlockIoctl.BLKROGET, &readOnly);
                return ((long)bytes, true, logical, readOnly != 0);
            }
        }

        long size = Unix.LSeek(fd, 0, Unix.SEEK_END);
        if (size < 0)
        {
            throw new DeviceException(DeviceErrorIds.Device.NotBlockCapable, DeviceErrorCategory.InvalidArgument,
                $"'{path}' cannot be used as a block device: {Unix.Errno.Describe(Marshal.GetLastPInvokeError())}", path);
        }

        return (size, false, 512, false);
    }

    private static DeviceException OpenError(string path, int errno) => ErrnoErrorMapper.ToOpenException(errno, path);

    /// <inheritdoc/>
    protected override unsafe ValueTask ReadCoreAsync(long offset, Memory<byte> buffer, CancellationToken cancellationToken)
    {
        using MemoryHandle pin = buffer.Pin();
        if (NeedsBounce((byte*)pin.Pointer, buffer.Length))
        {
            BounceRead(offset, buffer.Span);
        }
        else
        {
            ReadExactly(offset, (byte*)pin.Pointer, buffer.Length);
        }

        return default;
    }

    /// <inheritdoc/>
    protected override ValueTask ReadCoreAsync(long offset, IReadOnlyList<Memory<byte>> buffers, CancellationToken cancellationToken)
    {
        if (_direct || buffers.Count > Unix.IOV_MAX)
        {
            return base.ReadCoreAsync(offset, buffers, cancellationToken);
        }

        TransferGathered(offset, buffers, static b => b, write: false, fua: false);
        return default;
    }

    /// <inheritdoc/>
    protected override unsafe ValueTask WriteCoreAsync(long offset, ReadOnlyMemory<byte> buffer, BlockWriteOptions options, CancellationToken cancellationToken)
    {
        using MemoryHandle pin = buffer.Pin();
        bool fua = (options & BlockWriteOptions.ForceUnitAccess) != 0;
        if (NeedsBounce((byte*)pin.Pointer, buffer.Length))
        {
            BounceWrite(offset, buffer.Span);
            if (fua)
            {
                Sync();
            }
        }
        else
        {
            var vector = new Unix.IOVector { Base = (byte*)pin.Pointer, Count = (nuint)buffer.Length };
            WriteMaybeFua(offset, &vector, 1, fua);
        }

        return default;
    }

    /// <inheritdoc/>
    protected override ValueTask WriteCoreAsync(long offset, IReadOnlyList<ReadOnlyMemory<byte>> buffers, BlockWriteOptions options, CancellationToken cancellationToken)
    {
        if (_direct || buffers.Count > Unix.IOV_MAX)
        {
            return base.WriteCoreAsync(offset, buffers, options, cancellationToken);
        }

        TransferGathered(offset, buffers, static b => b, write: true, fua: (options & BlockWriteOptions.ForceUnitAccess) != 0);
        return default;
    }

    /// <summary>
    /// One preadv/pwritev over the caller's buffers, pinned for the call (at most IOV_MAX of them: 1,024 vectors,
    /// 16 KiB of stack); <paramref name="bufferAt"/> lets read (Memory) and write (ReadOnlyMemory) lists share it.
    /// </summary>
    private unsafe void TransferGathered<TBuffer>(long offset, IReadOnlyList<TBuffer> buffers, Func<TBuffer, ReadOnlyMemory<byte>> bufferAt, bool write, bool fua)
    {
        MemoryHandle[] pins = ArrayPool<MemoryHandle>.Shared.Rent(buffers.Count);
        Unix.IOVector* vectors = stackalloc Unix.IOVector[buffers.Count];
        try
        {
            for (int i = 0; i < buffers.Count; i++)
            {
                ReadOnlyMemory<byte> buffer = bufferAt(buffers[i]);
                pins[i] = buffer.Pin();
                vectors[i] = new Unix.IOVector { Base = (byte*)pins[i].Pointer, Count = (nuint)buffer.Length };
            }

            if (write)
            {
                WriteMaybeFua(offset, vectors, buffers.Count, fua);
            }
            else
            {
                TransferVector(offset, vectors, buffers.Count, write: false, flags: 0);
            }
        }
        finally
        {
            for (int i = 0; i < buffers.Count; i++)
            {
                pins[i].Dispose();
            }

            ArrayPool<MemoryHandle>.Shared.Return(pins, clearArray: true);
        }
    }

    /// <inheritdoc/>
    protected override ValueTask FlushCoreAsync(CancellationToken cancellationToken)
    {
        Sync();
        return default;
    }

    /// <inheritdoc/>
    protected override unsafe ValueTask TrimCoreAsync(long offset, long length, CancellationToken cancellationToken)
    {
        // Trim is advisory (the contents become undefined): where the file system or device cannot discard,
        // doing nothing is a correct trim.
        int result;
        if (_isBlockSpecial)
        {
            ulong* range = stackalloc ulong[2] { (ulong)offset, (ulong)length };
            result = Unix.Ioctl(_fd, Unix.BlockIoctl.BLKDISCARD, range);
        }
        else
        {
            result = Unix.FAllocate(_fd, Unix.FALLOC_FL_PUNCH_HOLE | Unix.FALLOC_FL_KEEP_SIZE, offset, length);
        }

        if (result != 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            if (!Unix.Errno.IsUnsupported(errno))
            {
                throw ErrnoErrorMapper.ToException(errno, Name, "trim");
            }
        }

        return default;
    }

    /// <inheritdoc/>
    protected override unsafe ValueTask WriteZeroesCoreAsync(long offset, long length, WriteZeroesOptions options, CancellationToken cancellationToken)
    {
        int result = -1;
        int errno = Unix.Errno.EOPNOTSUPP;
        if (OperatingSystem.IsLinux())
        {
            if (_isBlockSpecial)
            {
                ulong* range = stackalloc ulong[2] { (ulong)offset, (ulong)length };
                result = Unix.Ioctl(_fd, Unix.BlockIoctl.BLKZEROOUT, range);
            }
            else
            {
                int mode = (options & WriteZeroesOptions.NoHole) != 0
                    ? Unix.FALLOC_FL_ZERO_RANGE | Unix.FALLOC_FL_KEEP_SIZE
                    : Unix.FALLOC_FL_PUNCH_HOLE | Unix.FALLOC_FL_KEEP_SIZE;
                result = Unix.FAllocate(_fd, mode, offset, length);
            }

            errno = result == 0 ? 0 : Marshal.GetLastPInvokeError();
        }

        if (result != 0)
        {
            if (!Unix.Errno.IsUnsupported(errno))
            {
                throw ErrnoErrorMapper.ToException(errno, Name, "write-zeroes");
            }

            if ((options & WriteZeroesOptions.FastOnly) != 0)
            {
                throw new DeviceUnimplementedException(Name, "fast zeroing");
            }

            WriteZeroBytes(offset, length);
        }

        if ((options & WriteZeroesOptions.ForceUnitAccess) != 0)
        {
            Sync();
        }

        return default;
    }

    /// <inheritdoc/>
    protected override ValueTask<int> GetAllocationCoreAsync(long sector, long count, Memory<BlockExtent> extents, CancellationToken cancellationToken) =>
        new(FillExtents(this, sector, count, extents.Span, static (device, current, end) => device.NextRun(current, end)));

    /// <summary>The run of sectors from <paramref name="current"/> (before <paramref name="end"/>) that is all hole, or data, by SEEK_DATA and SEEK_HOLE.</summary>
    private (long End, BlockExtentFlags Flags) NextRun(long current, long end)
    {
        int sectorSize = Info.SectorSize;
        long offset = current * sectorSize;
        long dataAt = Seek(offset, Unix.SEEK_DATA);
        long holeEnd = Math.Min(end, dataAt / sectorSize);
        if (dataAt > offset && holeEnd > current)
        {
            return (holeEnd, BlockExtentFlags.Hole | BlockExtentFlags.Zero);
        }

        // A hole smaller than a sector counts as data: a sector is reported as a hole only if all of it is.
        long holeAt = Seek(Math.Max(offset, Math.Min(dataAt, offset + sectorSize)), Unix.SEEK_HOLE);
        return (Math.Min(end, Math.Max(current + 1, (holeAt + sectorSize - 1) / sectorSize)), BlockExtentFlags.Data);
    }

    /// <inheritdoc/>
    protected override ValueTask DisconnectCoreAsync(CancellationToken cancellationToken)
    {
        // The SafeHandle defers the close until syscalls in progress on other threads have returned.
        _fd.Dispose();
        return default;
    }

    /// <summary>lseek for SEEK_DATA/SEEK_HOLE; past the end of the file, data is "at" the end and so is the hole.</summary>
    private long Seek(long offset, int whence)
    {
        long result = Unix.LSeek(_fd, offset, whence);
        if (result >= 0)
        {
            return result;
        }

        int errno = Marshal.GetLastPInvokeError();
        if (errno == Unix.Errno.ENXIO)
        {
            return whence == Unix.SEEK_DATA ? long.MaxValue : offset;
        }

        throw ErrnoErrorMapper.ToException(errno, Name, "read", "allocation status");
    }

    private unsafe bool NeedsBounce(byte* pointer, int length) =>
        _direct && (((nuint)pointer & (DirectAlignment - 1)) != 0 || (length & (DirectAlignment - 1)) != 0);

    private unsafe void ReadExactly(long offset, byte* destination, int length)
    {
        var vector = new Unix.IOVector { Base = destination, Count = (nuint)length };
        TransferVector(offset, &vector, 1, write: false, flags: 0);
    }

    private unsafe void WriteMaybeFua(long offset, Unix.IOVector* vectors, int count, bool fua)
    {
        if (!fua)
        {
            TransferVector(offset, vectors, count, write: true, flags: 0);
            return;
        }

        if (_fuaMode != 2 && OperatingSystem.IsLinux())
        {
            try
            {
                TransferVector(offset, vectors, count, write: true, flags: Unix.RWF_DSYNC);
                _fuaMode = 1;
                return;
            }
            catch (BlockIOException e) when (_fuaMode == 0 && Unix.Errno.IsUnsupported(e.ErrorNumber))
            {
                _fuaMode = 2;
            }
            catch (EntryPointNotFoundException)
            {
                _fuaMode = 2;
            }
        }

        TransferVector(offset, vectors, count, write: true, flags: 0);
        Sync();
    }

    /// <summary>
    /// Runs one vectored transfer to completion: restarts after EINTR, continues after partial transfers, and
    /// turns a read that meets the end of the file into an error (the file shrank since it was opened).
    /// </summary>
    private unsafe void TransferVector(long offset, Unix.IOVector* vectors, int count, bool write, int flags)
    {
        while (count > 0)
        {
            nint done = write
                ? (flags != 0 ? Unix.PWriteV2(_fd, vectors, count, offset, flags) : Unix.PWriteV(_fd, vectors, count, offset))
                : Unix.PReadV(_fd, vectors, count, offset);
            if (done < 0)
            {
                int errno = Marshal.GetLastPInvokeError();
                if (errno == Unix.Errno.EINTR)
                {
                    continue;
                }

                throw ErrnoErrorMapper.ToException(errno, Name, write ? "write" : "read", $"at byte {offset}");
            }

            if (done == 0)
            {
                throw new BlockIOException(Name, write ? "write" : "read",
                    $"unexpected end of file at byte {offset}: '{Location}' is shorter than when it was opened.", Unix.Errno.EIO);
            }

            offset += done;
            while (count > 0 && done >= (nint)vectors->Count)
            {
                done -= (nint)vectors->Count;
                vectors++;
                count--;
            }

            if (count > 0)
            {
                vectors->Base += done;
                vectors->Count -= (nuint)done;
            }
        }
    }

    private unsafe void BounceRead(long offset, Span<byte> destination)
    {
        byte* bounce = (byte*)NativeMemory.AlignedAlloc(BounceSize, DirectAlignment);
        try
        {
            while (!destination.IsEmpty)
            {
                // n is a whole number of sectors (at least 512 bytes each), which O_DIRECT accepts.
                int n = Math.Min(destination.Length, BounceSize);
                ReadExactly(offset, bounce, n);
                new ReadOnlySpan<byte>(bounce, n).CopyTo(destination);
                destination = destination[n..];
                offset += n;
            }
        }
        finally
        {
            NativeMemory.AlignedFree(bounce);
        }
    }

    private unsafe void BounceWrite(long offset, ReadOnlySpan<byte> source)
    {
        byte* bounce = (byte*)NativeMemory.AlignedAlloc(BounceSize, DirectAlignment);
        try
        {
            while (!source.IsEmpty)
            {
                int n = Math.Min(source.Length, BounceSize);
                source[..n].CopyTo(new Span<byte>(bounce, n));
                var vector = new Unix.IOVector { Base = bounce, Count = (nuint)n };
                TransferVector(offset, &vector, 1, write: true, flags: 0);
                source = source[n..];
                offset += n;
            }
        }
        finally
        {
            NativeMemory.AlignedFree(bounce);
        }
    }

    private unsafe void WriteZeroBytes(long offset, long length)
    {
        byte* zeroes = (byte*)NativeMemory.AlignedAlloc(BounceSize, DirectAlignment);
        try
        {
            NativeMemory.Clear(zeroes, BounceSize);
            while (length > 0)
            {
                int n = (int)Math.Min(length, BounceSize);
                var vector = new Unix.IOVector { Base = zeroes, Count = (nuint)n };
                TransferVector(offset, &vector, 1, write: true, flags: 0);
                offset += n;
                length -= n;
            }
        }
        finally
        {
            NativeMemory.AlignedFree(zeroes);
        }
    }

    private void Sync()
    {
        int result;
        if (OperatingSystem.IsMacOS())
        {
            // fsync on macOS does not flush the drive's cache; F_FULLFSYNC does, where the file system supports it.
            result = Unix.Fcntl(_fd, Unix.F_FULLFSYNC, 0);
            if (result != 0)
            {
                result = Unix.FSync(_fd);
            }
        }
        else
        {
            result = Unix.FDataSync(_fd);
        }

        if (result != 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            throw ErrnoErrorMapper.ToException(errno, Name, "flush");
        }
    }
}
