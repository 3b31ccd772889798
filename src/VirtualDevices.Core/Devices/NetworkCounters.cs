namespace VirtualDevices.Devices;

/// <summary>The live, thread-safe counters behind <see cref="NetworkStatistics"/>; drivers add to them.</summary>
public sealed class NetworkCounters : DeviceCounters
{
    private const int RxBytes = 0, RxPackets = 1, RxDrops = 2, RxErrors = 3, TxBytes = 4, TxPackets = 5, TxDrops = 6, TxErrors = 7, RxNoBuffer = 8, TapDrops = 9;

    /// <summary>Counters at zero, counting from now.</summary>
    public NetworkCounters()
        : base(10)
    {
    }

    /// <summary>Counts one received frame.</summary>
    public void Received(int length)
    {
        Add(RxBytes, length);
        Increment(RxPackets);
    }

    /// <summary>Counts one sent frame.</summary>
    public void Sent(int length)
    {
        Add(TxBytes, length);
        Increment(TxPackets);
    }

    /// <summary>Counts a received frame that was dropped.</summary>
    public void ReceiveDropped() => Increment(RxDrops);

    /// <summary>Counts a received frame dropped because every buffer of the receive pool was in use (also a receive drop).</summary>
    public void ReceiveNoBuffer()
    {
        Increment(RxNoBuffer);
        Increment(RxDrops);
    }

    /// <summary>Counts a received frame a tap missed because its queue was full.</summary>
    public void TapDropped() => Increment(TapDrops);

    /// <summary>Counts a malformed or failed received frame.</summary>
    public void ReceiveFailed() => Increment(RxErrors);

    /// <summary>Counts a frame not sent for lack of room.</summary>
    public void SendDropped() => Increment(TxDrops);

    /// <summary>Counts a frame that failed to send.</summary>
    public void SendFailed() => Increment(TxErrors);

    /// <summary>Reads every counter.</summary>
    public NetworkStatistics Snapshot(string device, string driver) => new(
        device, driver, Start, DateTimeOffset.UtcNow,
        Current(RxBytes), Current(RxPackets), Current(RxDrops), Current(RxErrors),
        Current(TxBytes), Current(TxPackets), Current(TxDrops), Current(TxErrors),
        Current(RxNoBuffer), Current(TapDrops));
}
