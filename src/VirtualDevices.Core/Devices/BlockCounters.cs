namespace VirtualDevices.Devices;

/// <summary>The live, thread-safe counters behind <see cref="BlockStatistics"/>; drivers add to them.</summary>
public sealed class BlockCounters : DeviceCounters
{
    private const int ReadBytes = 0, ReadOps = 1, WriteBytes = 2, WriteOps = 3, FlushOps = 4, TrimOps = 5, ZeroOps = 6, Errors = 7;

    /// <summary>Counters at zero, counting from now.</summary>
    public BlockCounters()
        : base(8)
    {
    }

    /// <summary>Counts one completed read.</summary>
    public void Read(long bytes)
    {
        Add(ReadBytes, bytes);
        Increment(ReadOps);
    }

    /// <summary>Counts one completed write.</summary>
    public void Written(long bytes)
    {
        Add(WriteBytes, bytes);
        Increment(WriteOps);
    }

    /// <summary>Counts one completed flush.</summary>
    public void Flushed() => Increment(FlushOps);

    /// <summary>Counts one completed trim.</summary>
    public void Trimmed() => Increment(TrimOps);

    /// <summary>Counts one completed write-zeroes.</summary>
    public void Zeroed() => Increment(ZeroOps);

    /// <summary>Counts one failed request.</summary>
    public void Failed() => Increment(Errors);

    /// <summary>Reads every counter.</summary>
    public BlockStatistics Snapshot(string device, string driver) => new(
        device, driver, Start, DateTimeOffset.UtcNow,
        Current(ReadBytes), Current(ReadOps), Current(WriteBytes), Current(WriteOps),
        Current(FlushOps), Current(TrimOps), Current(ZeroOps), Current(Errors));
}
