namespace VirtualDevices.Devices;

/// <summary>The 64-bit counters of a block device.</summary>
public sealed class BlockStatistics : DeviceStatistics
{
    /// <summary>Creates a snapshot.</summary>
    public BlockStatistics(string device, string driver, DateTimeOffset start, DateTimeOffset timestamp,
        long readBytes, long readOps, long writeBytes, long writeOps,
        long flushOps, long trimOps, long zeroOps, long errors)
        : base(device, driver, start, timestamp)
    {
        ReadBytes = readBytes;
        ReadOps = readOps;
        WriteBytes = writeBytes;
        WriteOps = writeOps;
        FlushOps = flushOps;
        TrimOps = trimOps;
        ZeroOps = zeroOps;
        Errors = errors;
    }

    /// <inheritdoc/>
    public override DeviceKind Kind => DeviceKind.Block;

    /// <summary>Bytes read.</summary>
    public long ReadBytes { get; }

    /// <summary>Read requests completed.</summary>
    public long ReadOps { get; }

    /// <summary>Bytes written.</summary>
    public long WriteBytes { get; }

    /// <summary>Write requests completed.</summary>
    public long WriteOps { get; }

    /// <summary>Flushes completed.</summary>
    public long FlushOps { get; }

    /// <summary>Trims (discards) completed.</summary>
    public long TrimOps { get; }

    /// <summary>Write-zeroes requests completed.</summary>
    public long ZeroOps { get; }

    /// <summary>Requests that failed.</summary>
    public long Errors { get; }

    /// <summary>Average read rate over the period.</summary>
    public double ReadBytesPerSecond => PerSecond(ReadBytes);

    /// <summary>Average write rate over the period.</summary>
    public double WriteBytesPerSecond => PerSecond(WriteBytes);

    /// <summary>Average read requests per second.</summary>
    public double ReadOpsPerSecond => PerSecond(ReadOps);

    /// <summary>Average write requests per second.</summary>
    public double WriteOpsPerSecond => PerSecond(WriteOps);

    /// <inheritdoc/>
    public override DeviceStatistics Since(DeviceStatistics earlier)
    {
        if (earlier is not BlockStatistics e)
        {
            throw new ArgumentException("The earlier snapshot is not of a block device.", nameof(earlier));
        }

        return new BlockStatistics(Device, Driver, e.Timestamp, Timestamp,
            ReadBytes - e.ReadBytes, ReadOps - e.ReadOps, WriteBytes - e.WriteBytes, WriteOps - e.WriteOps,
            FlushOps - e.FlushOps, TrimOps - e.TrimOps, ZeroOps - e.ZeroOps, Errors - e.Errors);
    }
}
