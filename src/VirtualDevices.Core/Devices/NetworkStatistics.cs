namespace VirtualDevices.Devices;

/// <summary>
/// The 64-bit counters of a network device (received and transmitted bytes, packets, drops, errors). Every frame lost
/// is counted somewhere: <see cref="RxDrops"/> for frames the listener did not get (its queue was full, no buffer was
/// free, or the device was disposed with them unread), <see cref="TapDrops"/> for frames a tap missed, <see cref="TxDrops"/>
/// for frames that found no room (or no peer) to go to.
/// </summary>
public sealed class NetworkStatistics : DeviceStatistics
{
    /// <summary>Creates a snapshot without the pool and tap counters (both zero).</summary>
    public NetworkStatistics(string device, string driver, DateTimeOffset start, DateTimeOffset timestamp,
        long rxBytes, long rxPackets, long rxDrops, long rxErrors,
        long txBytes, long txPackets, long txDrops, long txErrors)
        : this(device, driver, start, timestamp, rxBytes, rxPackets, rxDrops, rxErrors, txBytes, txPackets, txDrops, txErrors, 0, 0)
    {
    }

    /// <summary>Creates a snapshot.</summary>
    public NetworkStatistics(string device, string driver, DateTimeOffset start, DateTimeOffset timestamp,
        long rxBytes, long rxPackets, long rxDrops, long rxErrors,
        long txBytes, long txPackets, long txDrops, long txErrors,
        long rxNoBuffer, long tapDrops)
        : base(device, driver, start, timestamp)
    {
        RxNoBuffer = rxNoBuffer;
        TapDrops = tapDrops;
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

    /// <summary>Bytes of frames received (whether or not a consumer took them).</summary>
    public long RxBytes { get; }

    /// <summary>Frames received into a buffer (whether or not a consumer took them).</summary>
    public long RxPackets { get; }

    /// <summary>
    /// Frames the listener did not get: its queue was full (no listener, or one too slow), no buffer was free
    /// (<see cref="RxNoBuffer"/>, which are not in <see cref="RxPackets"/>), or they were still queued when the device
    /// was disposed.
    /// </summary>
    public long RxDrops { get; }

    /// <summary>Frames dropped on arrival because every buffer of the receive pool was held by consumers (part of <see cref="RxDrops"/>).</summary>
    public long RxNoBuffer { get; }

    /// <summary>Frames a tap (a consumer beside the listener, such as a capture) missed because its queue was full.</summary>
    public long TapDrops { get; }

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
            TxBytes - e.TxBytes, TxPackets - e.TxPackets, TxDrops - e.TxDrops, TxErrors - e.TxErrors,
            RxNoBuffer - e.RxNoBuffer, TapDrops - e.TapDrops);
    }
}
