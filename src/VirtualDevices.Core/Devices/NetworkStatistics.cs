namespace VirtualDevices.Devices;

/// <summary>The 64-bit counters of a network device (received and transmitted bytes, packets, drops, errors).</summary>
public sealed class NetworkStatistics : DeviceStatistics
{
    /// <summary>Creates a snapshot.</summary>
    public NetworkStatistics(string device, string driver, DateTimeOffset start, DateTimeOffset timestamp,
        long rxBytes, long rxPackets, long rxDrops, long rxErrors,
        long txBytes, long txPackets, long txDrops, long txErrors)
        : base(device, driver, start, timestamp)
    {
        RxBytes = rxBytes;
        RxPackets = rxPackets;
        RxDrops = rxDrops;
        RxErrors = rxErrors;
        TxBytes = txBytes;
        TxPackets = txPackets;
        TxDrops = txDrops;
        TxErrors = txErrors;
    }

    /// <inheritdoc/>
    public override DeviceKind Kind => DeviceKind.Network;

    /// <summary>Bytes of frames received.</summary>
    public long RxBytes { get; }

    /// <summary>Frames received.</summary>
    public long RxPackets { get; }

    /// <summary>Frames received but dropped (no listener, listener too slow).</summary>
    public long RxDrops { get; }

    /// <summary>Frames received malformed or failed.</summary>
    public long RxErrors { get; }

    /// <summary>Bytes of frames sent.</summary>
    public long TxBytes { get; }

    /// <summary>Frames sent.</summary>
    public long TxPackets { get; }

    /// <summary>Frames the device could not send for lack of room.</summary>
    public long TxDrops { get; }

    /// <summary>Frames that failed to send.</summary>
    public long TxErrors { get; }

    /// <summary>Average receive rate over the period.</summary>
    public double RxBytesPerSecond => PerSecond(RxBytes);

    /// <summary>Average transmit rate over the period.</summary>
    public double TxBytesPerSecond => PerSecond(TxBytes);

    /// <summary>Average frames received per second.</summary>
    public double RxPacketsPerSecond => PerSecond(RxPackets);

    /// <summary>Average frames sent per second.</summary>
    public double TxPacketsPerSecond => PerSecond(TxPackets);

    /// <inheritdoc/>
    public override DeviceStatistics Since(DeviceStatistics earlier)
    {
        if (earlier is not NetworkStatistics e)
        {
            throw new ArgumentException("The earlier snapshot is not of a network device.", nameof(earlier));
        }

        return new NetworkStatistics(Device, Driver, e.Timestamp, Timestamp,
            RxBytes - e.RxBytes, RxPackets - e.RxPackets, RxDrops - e.RxDrops, RxErrors - e.RxErrors,
            TxBytes - e.TxBytes, TxPackets - e.TxPackets, TxDrops - e.TxDrops, TxErrors - e.TxErrors);
    }
}
