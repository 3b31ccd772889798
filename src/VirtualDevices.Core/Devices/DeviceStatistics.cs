namespace VirtualDevices.Devices;

/// <summary>
/// A snapshot of one device's counters over a period: since the device was opened or last reset, or, for the
/// result of <see cref="Since"/>, between two snapshots. Rates are averages over <see cref="Elapsed"/>.
/// </summary>
public abstract class DeviceStatistics
{
    /// <summary>Initialises the identifying part of a snapshot.</summary>
    protected DeviceStatistics(string device, string driver, DateTimeOffset start, DateTimeOffset timestamp)
    {
        Device = device;
        Driver = driver;
        Start = start;
        Timestamp = timestamp;
    }

    /// <summary>The device's name.</summary>
    public string Device { get; }

    /// <summary>The device's driver.</summary>
    public string Driver { get; }

    /// <summary>The family of the device.</summary>
    public abstract DeviceKind Kind { get; }

    /// <summary>When the counted period began (open, reset, or the earlier snapshot).</summary>
    public DateTimeOffset Start { get; }

    /// <summary>When the snapshot was taken.</summary>
    public DateTimeOffset Timestamp { get; }

    /// <summary>The length of the counted period.</summary>
    public TimeSpan Elapsed => Timestamp - Start;

    /// <summary>The counters of the period between <paramref name="earlier"/> and this snapshot.</summary>
    /// <param name="earlier">An earlier snapshot of the same device, taken without a reset in between.</param>
    public abstract DeviceStatistics Since(DeviceStatistics earlier);

    /// <summary>A count divided by the period, 0 for an empty period.</summary>
    protected double PerSecond(long count)
    {
        double seconds = Elapsed.TotalSeconds;
        return seconds > 0 ? count / seconds : 0;
    }
}
