using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using VirtualDevices.Devices;
using VirtualDevices.Hosting;

namespace VirtualDevices.Network.Switch;

/// <summary>
/// A learning Ethernet switch in software joining any network devices (TAP and vmnet interfaces, in-memory links,
/// later Xen netback ports): each frame a port's device receives is written to the port where its destination was
/// last seen, or flooded to every other port while the destination is unknown (and always for broadcast and
/// multicast). Addresses are learned per VLAN from the frames' sources and forgotten after <see cref="AgeingTime"/>
/// without traffic, or when their port goes. 802.1Q tags are passed through unchanged. Every frame is accounted for
/// in the ports' counters (<see cref="SwitchPort"/>).
/// </summary>
/// <remarks>
/// Each port is read by a task of its own from its device's listener (so a port device cannot also be read by
/// another listener; a capture uses a tap beside it); the frame is written to the other ports from that task, from
/// the device's pooled page, with no copy of its own. Two switches are joined as real ones are, by a cable: the two
/// ends of an in-memory pair (<see cref="MemoryNetworkDevice.CreatePair"/>), one a port of each.
/// </remarks>
public sealed class NetworkSwitch : IHostedService
{
    /// <summary>The ageing time of IEEE 802.1D's default: 300 s.</summary>
    public static readonly TimeSpan DefaultAgeingTime = TimeSpan.FromSeconds(300);

    private static readonly ConditionalWeakTable<INetworkDevice, SwitchPort> Memberships = [];

    private readonly object _lock = new();
    private readonly Dictionary<ulong, (SwitchPort Port, long SeenAt)> _table = [];
    private SwitchPort[] _ports = [];
    private int _nextPort;
    private long _tableFull;
    private int _stopped;

    /// <summary>Creates a switch with no ports.</summary>
    /// <param name="name">Its name.</param>
    /// <param name="ageingTime">How long an address is remembered without traffic from it (default 300 s).</param>
    /// <param name="maxAddresses">Addresses it remembers at most (default 4096); beyond, new ones are flooded to, and counted in <see cref="TableFull"/>.</param>
    public NetworkSwitch(string name, TimeSpan? ageingTime = null, int maxAddresses = 4096)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxAddresses, 1);
        Name = name;
        AgeingTime = ageingTime ?? DefaultAgeingTime;
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(AgeingTime, TimeSpan.Zero, nameof(ageingTime));
        MaxAddresses = maxAddresses;
    }

    /// <summary>The switch's name.</summary>
    public string Name { get; }

    /// <summary>How long an address is remembered without traffic from it.</summary>
    public TimeSpan AgeingTime { get; }

    /// <summary>Addresses remembered at most.</summary>
    public int MaxAddresses { get; }

    /// <summary>The connected ports, in the order they were connected.</summary>
    public IReadOnlyList<SwitchPort> Ports => Volatile.Read(ref _ports);

    /// <summary>Addresses learned now (aged ones included until they are next looked at).</summary>
    public int LearnedAddresses
    {
        get
        {
            lock (_lock)
            {
                return _table.Count;
            }
        }
    }

    /// <summary>New addresses not learned because the table was full (their frames are flooded to).</summary>
    public long TableFull => Interlocked.Read(ref _tableFull);

    /// <summary>True until the switch is stopped.</summary>
    public bool IsRunning => Volatile.Read(ref _stopped) == 0;

    /// <inheritdoc/>
    /// <remarks>None: ports do not pin their devices; a port whose device closes leaves the switch.</remarks>
    public IReadOnlyCollection<IDevice> ServedDevices => [];

    /// <summary>The port of a device, if it is a port of any switch.</summary>
    /// <param name="device">The device.</param>
    /// <param name="port">Its port.</param>
    public static bool TryGetPort(INetworkDevice device, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out SwitchPort? port)
    {
        ArgumentNullException.ThrowIfNull(device);
        return Memberships.TryGetValue(device, out port) && port.IsConnected;
    }

    /// <summary>Connects a device as a new port: the switch becomes its listener.</summary>
    /// <param name="device">The device.</param>
    /// <exception cref="DeviceException"><c>NetworkSwitchPortInUse</c>: it is a port already; <c>DeviceListenerActive</c>: something else listens to it; <c>DeviceDisconnected</c>.</exception>
    public SwitchPort Connect(INetworkDevice device)
    {
        ArgumentNullException.ThrowIfNull(device);
        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(!IsRunning, this);
            if (TryGetPort(device, out SwitchPort? existing))
            {
                throw new DeviceException(DeviceErrorIds.Network.SwitchPortInUse, DeviceErrorCategory.ResourceExists,
                    $"'{device.Name}' is already {existing}; disconnect it first.", device.Name);
            }

            var port = new SwitchPort(this, device, ++_nextPort);
            port.Listener = device.OpenListener();
            Memberships.AddOrUpdate(device, port);
            _ports = [.. _ports, port];
            port.Reading = Task.Run(() => ReadAsync(port));
            return port;
        }
    }

    /// <summary>Disconnects a port: the switch stops listening to its device (which stays open) and forgets its addresses.</summary>
    /// <param name="port">A port of this switch.</param>
    public async Task DisconnectAsync(SwitchPort port)
    {
        ArgumentNullException.ThrowIfNull(port);
        if (!ReferenceEquals(port.Switch, this))
        {
            throw new ArgumentException($"{port} is not a port of {Name}.", nameof(port));
        }

        await port.Stopped.CancelAsync().ConfigureAwait(false);
        if (port.Reading is { } reading)
        {
            await reading.ConfigureAwait(false);
        }
    }

    /// <summary>The learned addresses that have not aged out.</summary>
    public IReadOnlyList<MacTableEntry> GetAddressTable()
    {
        long now = Environment.TickCount64;
        lock (_lock)
        {
            return _table
                .Where(e => now - e.Value.SeenAt < (long)AgeingTime.TotalMilliseconds)
                .Select(e => new MacTableEntry(MacAddress.Read(Key(e.Key)), (int)(e.Key >> 48), e.Value.Port, TimeSpan.FromMilliseconds(now - e.Value.SeenAt)))
                .OrderBy(e => e.Port.Number).ThenBy(e => e.MacAddress.ToString(), StringComparer.Ordinal)
                .ToList();
        }
    }

    /// <summary>Forgets every learned address (frames are flooded until they are learned again).</summary>
    public void ClearAddressTable()
    {
        lock (_lock)
        {
            _table.Clear();
        }
    }

    /// <inheritdoc/>
    public async Task StopAsync(CancellationToken cancellationToken = default)
    {
        if (Interlocked.Exchange(ref _stopped, 1) != 0)
        {
            return;
        }

        foreach (SwitchPort port in Ports)
        {
            await DisconnectAsync(port).WaitAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    /// <inheritdoc/>
    public async ValueTask DisposeAsync() => await StopAsync().ConfigureAwait(false);

    /// <inheritdoc/>
    public override string ToString() => $"{Name} ({Ports.Count} ports)";

    private static byte[] Key(ulong key)
    {
        byte[] bytes = new byte[8];
        BinaryPrimitives.WriteUInt64BigEndian(bytes, key << 16);
        return bytes;
    }

    private static ulong KeyOf(ReadOnlySpan<byte> address, int vlan) =>
        ((ulong)(uint)vlan << 48) | ((ulong)BinaryPrimitives.ReadUInt16BigEndian(address) << 32) | BinaryPrimitives.ReadUInt32BigEndian(address[2..]);

    /// <summary>The 802.1Q VLAN id of a tagged frame (TPID 0x8100, or 0x88A8 for an outer service tag), 0 otherwise.</summary>
    private static int VlanOf(ReadOnlySpan<byte> frame)
    {
        ushort type = BinaryPrimitives.ReadUInt16BigEndian(frame[12..]);
        return (type == 0x8100 || type == 0x88A8) && frame.Length >= 18 ? BinaryPrimitives.ReadUInt16BigEndian(frame[14..]) & 0xFFF : 0;
    }

    private async Task ReadAsync(SwitchPort port)
    {
        FrameReader listener = port.Listener!;
        CancellationToken stop = port.Stopped.Token;
        try
        {
            while (await listener.WaitToReadAsync(stop).ConfigureAwait(false))
            {
                while (listener.TryRead(out FrameLease frame))
                {
                    try
                    {
                        await ForwardAsync(port, frame).ConfigureAwait(false);
                    }
                    finally
                    {
                        frame.Dispose();
                    }
                }
            }
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            // Disconnected by the caller.
        }
        catch (DeviceException)
        {
            // The device failed or went away: the port leaves the switch.
        }
        finally
        {
            port.Stopped.Cancel();
            listener.Dispose();
            Leave(port);
        }
    }

    private void Leave(SwitchPort port)
    {
        lock (_lock)
        {
            _ports = Array.FindAll(_ports, p => !ReferenceEquals(p, port));
            foreach (ulong key in _table.Where(e => ReferenceEquals(e.Value.Port, port)).Select(e => e.Key).ToList())
            {
                _table.Remove(key);
            }
        }

        Memberships.Remove(port.Device);
    }

    private async ValueTask ForwardAsync(SwitchPort from, FrameLease frame)
    {
        ReadOnlyMemory<byte> data = frame.Data;
        from.CountReceived(data.Length);
        int vlan = VlanOf(data.Span);
        long now = Environment.TickCount64;
        bool group = (data.Span[0] & 1) != 0;
        SwitchPort? target = null;
        lock (_lock)
        {
            if ((data.Span[6] & 1) == 0)
            {
                Learn(KeyOf(data.Span[6..], vlan), from, now);
            }

            if (!group && _table.TryGetValue(KeyOf(data.Span, vlan), out var entry))
            {
                if (now - entry.SeenAt < (long)AgeingTime.TotalMilliseconds)
                {
                    target = entry.Port;
                }
                else
                {
                    _table.Remove(KeyOf(data.Span, vlan));
                }
            }
        }

        if (target is not null)
        {
            if (ReferenceEquals(target, from))
            {
                from.CountFiltered(); // its destination is behind the port it came from: the segment delivered it already
                return;
            }

            await SendAsync(target, data, flooded: false).ConfigureAwait(false);
            return;
        }

        foreach (SwitchPort port in Volatile.Read(ref _ports))
        {
            if (!ReferenceEquals(port, from))
            {
                await SendAsync(port, data, flooded: true).ConfigureAwait(false);
            }
        }
    }

    private void Learn(ulong key, SwitchPort port, long now)
    {
        if (_table.ContainsKey(key) || _table.Count < MaxAddresses)
        {
            _table[key] = (port, now);
            return;
        }

        long limit = (long)AgeingTime.TotalMilliseconds;
        foreach (ulong old in _table.Where(e => now - e.Value.SeenAt >= limit).Select(e => e.Key).ToList())
        {
            _table.Remove(old);
        }

        if (_table.Count < MaxAddresses)
        {
            _table[key] = (port, now);
        }
        else
        {
            Interlocked.Increment(ref _tableFull);
        }
    }

    private static async ValueTask SendAsync(SwitchPort port, ReadOnlyMemory<byte> frame, bool flooded)
    {
        if (!port.IsConnected)
        {
            port.CountDropped();
            return;
        }

        try
        {
            await port.Device.WriteAsync(frame, port.Stopped.Token).ConfigureAwait(false);
            port.CountSent(frame.Length, flooded);
        }
        catch (Exception e) when (e is DeviceException or OperationCanceledException)
        {
            port.CountDropped(); // over its MTU, or the device is going: lost here, counted here
        }
    }
}
