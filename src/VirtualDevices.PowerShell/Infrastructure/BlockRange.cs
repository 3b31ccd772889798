using VirtualDevices.Block;

namespace VirtualDevices.PowerShell.Infrastructure;

/// <summary>
/// Resolves the -Sector/-Count and -Offset/-Length parameters of the block cmdlets into a sector range, with the
/// same typed errors the core uses.
/// </summary>
internal static class BlockRange
{
    public static (long Sector, long Count) Resolve(IBlockDevice device, long? sector, long? count, long? offset, long? length)
    {
        if ((sector is not null || count is not null) && (offset is not null || length is not null))
        {
            throw new ArgumentException("Give the range either as -Sector/-Count or as -Offset/-Length, not both.");
        }

        int sectorSize = device.Info.SectorSize;
        long total = device.Info.SectorCount;
        if (offset is not null || length is not null)
        {
            long start = offset ?? 0;
            if (start % sectorSize != 0)
            {
                throw new BlockMisalignedException(device.Name, $"offset {start}", sectorSize);
            }

            if (length is long bytes && bytes % sectorSize != 0)
            {
                throw new BlockMisalignedException(device.Name, $"length {bytes}", sectorSize);
            }

            sector = start / sectorSize;
            count = length is long l ? l / sectorSize : null;
        }

        long first = sector ?? 0;
        long n = count ?? Math.Max(0, total - first);
        if (first < 0 || n < 0 || first > total || n > total - first)
        {
            throw new BlockOutOfRangeException(device.Name, first, n, total);
        }

        return (first, n);
    }
}
