namespace VirtualDevices.Network.Switch;

/// <summary>
/// One port of a <see cref="NetworkSwitch"/>: a network device whose listener the switch reads, and which it writes
/// the frames meant for it. Its counters say where every frame went: in (<see cref="RxFrames"/>), out
/// (<see cref="TxFrames"/>, of which <see cref="Flooded"/> were sent because the destination was unknown or a group),
/// and what was lost (<see cref="Filtered"/>: frames whose destination is on the port they came from, dropped as a
/// learning bridge does; <see cref="TxDrops"/>: frames this port's device refused, such as one over its MTU, or that
/// arrived while it was going). Frames the device's own listener queue could not hold are the device's RxDrops.
/// </summary>
public sealed class SwitchPort
{
    private long _rxFrames;
    private long _rxBytes;
    private long _txFrames;
    private long _txBytes;
    private long _flooded;
    private long _filtered;
    private long _txDrops;

    internal SwitchPort(NetworkSwitch owner, INetworkDevice device, int number)
    {
        Switch = owner;
        Device = device;
        Number = number;
    }

    /// <summary>The switch.</summary>
    public NetworkSwitch Switch { get; }

    /// <summary>The device on this port.</summary>
    public INetworkDevice Device { get; }

    /// <summary>The device's name.</summary>
    public string DeviceName => Device.Name;

    /// <summary>The port's number on its switch (from 1, never reused).</summary>
    public int Number { get; }

    /// <summary>True until the port is disconnected (by the caller, or because its device went away).</summary>
    public bool IsConnected => !Stopped.IsCancellationRequested;

    /// <summary>Frames received from the device.</summary>
    public long RxFrames => Interlocked.Read(ref _rxFrames);

    /// <summary>Bytes of frames received from the device.</summary>
    public long RxBytes => Interlocked.Read(ref _rxBytes);

    /// <summary>Frames written to the device.</summary>
    public long TxFrames => Interlocked.Read(ref _txFrames);

    /// <summary>Bytes of frames written to the device.</summary>
    public long TxBytes => Interlocked.Read(ref _txBytes);

    /// <summary>Frames written to the device by flooding: a broadcast, a multicast, or a unicast to an address not learned (yet).</summary>
    public long Flooded => Interlocked.Read(ref _flooded);

    /// <summary>Frames received from the device and dropped because their destination was learned on this same port.</summary>
    public long Filtered => Interlocked.Read(ref _filtered);

    /// <summary>Frames meant for the device that it refused (over its MTU, disconnected): lost, and counted here.</summary>
    public long TxDrops => Interlocked.Read(ref _txDrops);

    internal CancellationTokenSource Stopped { get; } = new();

    internal FrameReader? Listener { get; set; }

    internal Task? Reading { get; set; }

    /// <inheritdoc/>
    public override string ToString() => $"{Switch.Name} port {Number}: {Device.Name}";

    internal void CountReceived(int length)
    {
        Interlocked.Increment(ref _rxFrames);
        Interlocked.Add(ref _rxBytes, length);
    }

    internal void CountSent(int length, bool flooded)
    {
        Interlocked.Increment(ref _txFrames);
        Interlocked.Add(ref _txBytes, length);
        if (flooded)
        {
            Interlocked.Increment(ref _flooded);
        }
    }

    internal void CountFiltered() => Interlocked.Increment(ref _filtered);

    internal void CountDropped() => Interlocked.Increment(ref _txDrops);
}
