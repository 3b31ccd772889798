namespace VirtualDevices.Block;

/// <summary>
/// The one place the range rules of block devices live: a range of sectors must lie within the device, and a range
/// or length given in bytes must fall on sector boundaries. Devices check requests with <see cref="Check"/> and
/// <see cref="CheckAligned"/>; commands that take a range in either unit resolve it with <see cref="Resolve"/>.
/// </summary>
public static class BlockRange
{
    /// <summary>The error for a range of sectors that does not lie within the device, or null when it does.</summary>
    /// <param name="deviceName">The device, for the error.</param>
    /// <param name="sector">The first sector.</param>
    /// <param name="count">The number of sectors.</param>
    /// <param name="sectorCount">The device's size in sectors.</param>
    public static BlockOutOfRangeException? Check(string deviceName, long sector, long count, long sectorCount) =>
        sector < 0 || count < 0 || sector > sectorCount || count > sectorCount - sector
            ? new BlockOutOfRangeException(deviceName, sector, count, sectorCount)
            : null;

    /// <summary>The error for a byte count that is not a whole number of sectors, or null when it is.</summary>
    /// <param name="deviceName">The device, for the error.</param>
    /// <param name="what">What the count is, for the error (<c>offset</c>, <c>input length</c>, <c>size</c>).</param>
    /// <param name="bytes">The count.</param>
    /// <param name="sectorSize">The sector size.</param>
    public static BlockMisalignedException? CheckAligned(string deviceName, string what, long bytes, int sectorSize) =>
        bytes % sectorSize == 0 ? null : new BlockMisalignedException(deviceName, $"{what} {bytes}", sectorSize);

    /// <summary>
    /// Resolves a range given either in sectors (first sector, count) or in bytes (offset, length) into sectors.
    /// A missing start is 0 and a missing length runs to the end of the device.
    /// </summary>
    /// <param name="device">The device.</param>
    /// <param name="sector">The first sector, if given in sectors.</param>
    /// <param name="count">The number of sectors, if given in sectors.</param>
    /// <param name="offset">The first byte, if given in bytes (a multiple of the sector size).</param>
    /// <param name="length">The number of bytes, if given in bytes (a multiple of the sector size).</param>
    /// <exception cref="ArgumentException">Both units were given.</exception>
    /// <exception cref="BlockMisalignedException">A byte offset or length is not a whole number of sectors.</exception>
    /// <exception cref="BlockOutOfRangeException">The range does not lie within the device.</exception>
    public static (long Sector, long Count) Resolve(IBlockDevice device, long? sector, long? count, long? offset, long? length)
    {
        ArgumentNullException.ThrowIfNull(device);
        if ((sector is not null || count is not null) && (offset is not null || length is not null))
        {
            throw new ArgumentException("Give the range either as -Sector/-Count or as -Offset/-Length, not both.");
        }

        int sectorSize = device.Info.SectorSize;
        long total = device.Info.SectorCount;
        if (offset is not null || length is not null)
        {
            long start = offset ?? 0;
            if (CheckAligned(device.Name, "offset", start, sectorSize) is { } misalignedOffset)
            {
                throw misalignedOffset;
            }

            if (length is long bytes && CheckAligned(device.Name, "length", bytes, sectorSize) is { } misalignedLength)
            {
                throw misalignedLength;
            }

            sector = start / sectorSize;
            count = length is long l ? l / sectorSize : null;
        }

        long first = sector ?? 0;
        long n = count ?? Math.Max(0, total - first);
        return Check(device.Name, first, n, total) is { } error ? throw error : (first, n);
    }
}
