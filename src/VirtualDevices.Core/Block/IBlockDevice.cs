using VirtualDevices.Devices;

namespace VirtualDevices.Block;

/// <summary>
/// A device of fixed-size sectors (after mirage-block, extended with FUA, trim, write-zeroes and allocation status).
/// Every request is a whole number of sectors inside the device; anything else fails before touching the device
/// with <see cref="BlockMisalignedException"/> or <see cref="BlockOutOfRangeException"/>. Requests may run
/// concurrently; their order is not defined unless the caller awaits each.
/// </summary>
public interface IBlockDevice : IDevice
{
    /// <summary>The geometry and capabilities of the device.</summary>
    BlockDeviceInfo Info { get; }

    /// <summary>Reads whole sectors starting at <paramref name="sector"/> into <paramref name="buffer"/>.</summary>
    /// <param name="sector">The first sector.</param>
    /// <param name="buffer">A whole number of sectors to fill.</param>
    /// <param name="cancellationToken">Abandons the request where the driver can.</param>
    ValueTask ReadAsync(long sector, Memory<byte> buffer, CancellationToken cancellationToken = default);

    /// <summary>Reads consecutive sectors into several buffers (scatter), each a whole number of sectors.</summary>
    /// <param name="sector">The first sector.</param>
    /// <param name="buffers">Buffers filled in order.</param>
    /// <param name="cancellationToken">Abandons the request where the driver can.</param>
    ValueTask ReadAsync(long sector, IReadOnlyList<Memory<byte>> buffers, CancellationToken cancellationToken = default);

    /// <summary>Writes whole sectors starting at <paramref name="sector"/>.</summary>
    /// <param name="sector">The first sector.</param>
    /// <param name="buffer">A whole number of sectors.</param>
    /// <param name="options">Force unit access, where supported.</param>
    /// <param name="cancellationToken">Abandons the request where the driver can.</param>
    ValueTask WriteAsync(long sector, ReadOnlyMemory<byte> buffer, BlockWriteOptions options = BlockWriteOptions.None, CancellationToken cancellationToken = default);

    /// <summary>Writes consecutive sectors gathered from several buffers, each a whole number of sectors.</summary>
    /// <param name="sector">The first sector.</param>
    /// <param name="buffers">Buffers written in order.</param>
    /// <param name="options">Force unit access, where supported.</param>
    /// <param name="cancellationToken">Abandons the request where the driver can.</param>
    ValueTask WriteAsync(long sector, IReadOnlyList<ReadOnlyMemory<byte>> buffers, BlockWriteOptions options = BlockWriteOptions.None, CancellationToken cancellationToken = default);

    /// <summary>Makes every completed write durable.</summary>
    /// <param name="cancellationToken">Stops waiting.</param>
    ValueTask FlushAsync(CancellationToken cancellationToken = default);

    /// <summary>Discards a range: its contents become undefined (zeroes on most devices) and storage may be freed.</summary>
    /// <param name="sector">The first sector.</param>
    /// <param name="count">The number of sectors.</param>
    /// <param name="cancellationToken">Stops waiting.</param>
    ValueTask TrimAsync(long sector, long count, CancellationToken cancellationToken = default);

    /// <summary>Makes a range read as zeroes without sending zero bytes.</summary>
    /// <param name="sector">The first sector.</param>
    /// <param name="count">The number of sectors.</param>
    /// <param name="options">Whether holes are allowed, and whether slow zeroing is refused.</param>
    /// <param name="cancellationToken">Stops waiting.</param>
    ValueTask WriteZeroesAsync(long sector, long count, WriteZeroesOptions options = WriteZeroesOptions.None, CancellationToken cancellationToken = default);

    /// <summary>
    /// Describes the allocation of the range starting at <paramref name="sector"/>: fills <paramref name="extents"/>
    /// with consecutive runs from <paramref name="sector"/> onward and returns how many it wrote (at least one when
    /// <paramref name="count"/> is positive). The runs may stop before the end of the range. Devices without
    /// <see cref="BlockFeatures.AllocationStatus"/> report the whole range as allocated data.
    /// </summary>
    /// <param name="sector">The first sector.</param>
    /// <param name="count">The number of sectors asked about.</param>
    /// <param name="extents">Where the runs are written.</param>
    /// <param name="cancellationToken">Stops waiting.</param>
    ValueTask<int> GetAllocationAsync(long sector, long count, Memory<BlockExtent> extents, CancellationToken cancellationToken = default);
}
