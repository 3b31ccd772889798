namespace VirtualDevices.Devices;

/// <summary>The live, thread-safe counters behind <see cref="BlockStatistics"/>; drivers add to them.</summary>
public sealed class BlockCounters
{
    private long _readBytes, _readOps, _writeBytes, _writeOps, _flushOps, _trimOps, _zeroOps, _errors;
    private DateTimeOffset _start = DateTimeOffset.UtcNow;

    /// <summary>Counts one completed read.</summary>
    public void Read(long bytes)
    {
        Interlocked.Add(ref _readBytes, bytes);
        Interlocked.Increment(ref _readOps);
    }

    /// <summary>Counts one completed write.</summary>
    public void Written(long bytes)
    {
        Interlocked.Add(ref _writeBytes, bytes);
        Interlocked.Increment(ref _writeOps);
    }

    /// <summary>Counts one completed flush.</summary>
    public void Flushed() => Interlocked.Increment(ref _flushOps);

    /// <summary>Counts one completed trim.</summary>
    public void Trimmed() => Interlocked.Increment(ref _trimOps);

    /// <summary>Counts one completed write-zeroes.</summary>
    public void Zeroed() => Interlocked.Increment(ref _zeroOps);

    /// <summary>Counts one failed request.</summary>
    public void Failed() => Interlocked.Increment(ref _errors);

    /// <summary>Reads every counter.</summary>
    public BlockStatistics Snapshot(string device, string driver) => new(
        device, driver, _start, DateTimeOffset.UtcNow,
        Interlocked.Read(ref _readBytes), Interlocked.Read(ref _readOps), Interlocked.Read(ref _writeBytes), Interlocked.Read(ref _writeOps),
        Interlocked.Read(ref _flushOps), Interlocked.Read(ref _trimOps), Interlocked.Read(ref _zeroOps), Interlocked.Read(ref _errors));

    /// <summary>Zeroes every counter and restarts the period.</summary>
    public void Reset()
    {
        _start = DateTimeOffset.UtcNow;
        Interlocked.Exchange(ref _readBytes, 0);
        Interlocked.Exchange(ref _readOps, 0);
        Interlocked.Exchange(ref _writeBytes, 0);
        Interlocked.Exchange(ref _writeOps, 0);
        Interlocked.Exchange(ref _flushOps, 0);
        Interlocked.Exchange(ref _trimOps, 0);
        Interlocked.Exchange(ref _zeroOps, 0);
        Interlocked.Exchange(ref _errors, 0);
    }
}
