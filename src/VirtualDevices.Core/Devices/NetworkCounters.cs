namespace VirtualDevices.Devices;

/// <summary>The live, thread-safe counters behind <see cref="NetworkStatistics"/>; drivers add to them.</summary>
public sealed class NetworkCounters
{
    private long _rxBytes, _rxPackets, _rxDrops, _rxErrors, _txBytes, _txPackets, _txDrops, _txErrors, _rxNoBuffer, _tapDrops;
    private DateTimeOffset _start = DateTimeOffset.UtcNow;

    /// <summary>Counts one received frame.</summary>
    public void Received(int length)
    {
        Interlocked.Add(ref _rxBytes, length);
        Interlocked.Increment(ref _rxPackets);
    }

    /// <summary>Counts one sent frame.</summary>
    public void Sent(int length)
    {
        Interlocked.Add(ref _txBytes, length);
        Interlocked.Increment(ref _txPackets);
    }

    /// <summary>Counts a received frame that was dropped.</summary>
    public void ReceiveDropped() => Interlocked.Increment(ref _rxDrops);

    /// <summary>Counts a received frame dropped because every buffer of the receive pool was in use (also a receive drop).</summary>
    public void ReceiveNoBuffer()
    {
        Interlocked.Increment(ref _rxNoBuffer);
        Interlocked.Increment(ref _rxDrops);
    }

    /// <summary>Counts a received frame a tap missed because its queue was full.</summary>
    public void TapDropped() => Interlocked.Increment(ref _tapDrops);

    /// <summary>Counts a malformed or failed received frame.</summary>
    public void ReceiveFailed() => Interlocked.Increment(ref _rxErrors);

    /// <summary>Counts a frame not sent for lack of room.</summary>
    public void SendDropped() => Interlocked.Increment(ref _txDrops);

    /// <summary>Counts a frame that failed to send.</summary>
    public void SendFailed() => Interlocked.Increment(ref _txErrors);

    /// <summary>Reads every counter.</summary>
    public NetworkStatistics Snapshot(string device, string driver) => new(
        device, driver, _start, DateTimeOffset.UtcNow,
        Interlocked.Read(ref _rxBytes), Interlocked.Read(ref _rxPackets), Interlocked.Read(ref _rxDrops), Interlocked.Read(ref _rxErrors),
        Interlocked.Read(ref _txBytes), Interlocked.Read(ref _txPackets), Interlocked.Read(ref _txDrops), Interlocked.Read(ref _txErrors),
        Interlocked.Read(ref _rxNoBuffer), Interlocked.Read(ref _tapDrops));

    /// <summary>Zeroes every counter and restarts the period.</summary>
    public void Reset()
    {
        _start = DateTimeOffset.UtcNow;
        Interlocked.Exchange(ref _rxBytes, 0);
        Interlocked.Exchange(ref _rxPackets, 0);
        Interlocked.Exchange(ref _rxDrops, 0);
        Interlocked.Exchange(ref _rxErrors, 0);
        Interlocked.Exchange(ref _txBytes, 0);
        Interlocked.Exchange(ref _txPackets, 0);
        Interlocked.Exchange(ref _txDrops, 0);
        Interlocked.Exchange(ref _txErrors, 0);
        Interlocked.Exchange(ref _rxNoBuffer, 0);
        Interlocked.Exchange(ref _tapDrops, 0);
    }
}
