using System.Buffers.Binary;
using VirtualDevices.Network;
using VirtualDevices.Network.Switch;

namespace VirtualDevices.Tests.Network.Switch;

/// <summary>
/// The switch over in-memory links: each "host" is the outer end of a pair whose inner end is a switch port, so what
/// a host writes enters the switch, and what the switch writes to a port arrives at its host's listener.
/// </summary>
public sealed class NetworkSwitchTests : IAsyncDisposable
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(10);
    private readonly List<MemoryNetworkDevice> _devices = [];
    private readonly NetworkSwitch _switch = new("sw-test");

    public async ValueTask DisposeAsync()
    {
        await _switch.DisposeAsync();
        foreach (MemoryNetworkDevice device in _devices)
        {
            await device.DisposeAsync();
        }
    }

    private (MemoryNetworkDevice Host, SwitchPort Port, FrameReader Listener) Attach(NetworkSwitch owner, int mtu = 1500)
    {
        var (host, inner) = MemoryNetworkDevice.CreatePair(mtu);
        _devices.Add(host);
        _devices.Add(inner);
        return (host, owner.Connect(inner), host.OpenListener());
    }

    private static byte[] Frame(MacAddress destination, MacAddress source, int length = 60, ushort? vlan = null)
    {
        byte[] frame = new byte[length];
        destination.Write(frame);
        source.Write(frame.AsSpan(6));
        int type = 12;
        if (vlan is { } id)
        {
            BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(12), 0x8100);
            BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(14), id);
            type = 16;
        }

        BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(type), 0x88B5);
        frame[^1] = (byte)length;
        return frame;
    }

    private static async Task<byte[]> ReceiveAsync(FrameReader reader)
    {
        using var cts = new CancellationTokenSource(Wait);
        while (await reader.WaitToReadAsync(cts.Token))
        {
            if (reader.TryRead(out FrameLease lease))
            {
                using (lease)
                {
                    return lease.Span.ToArray();
                }
            }
        }

        throw new InvalidOperationException("the reader ended");
    }

    /// <summary>Sends a marker broadcast from <paramref name="host"/> and waits for it at every other listener: everything sent before it has been forwarded.</summary>
    private static async Task SettleAsync(MemoryNetworkDevice host, params FrameReader[] others)
    {
        byte[] marker = Frame(MacAddress.Broadcast, host.MacAddress, 61);
        await host.WriteAsync(marker);
        foreach (FrameReader other in others)
        {
            while (!(await ReceiveAsync(other)).AsSpan().SequenceEqual(marker))
            {
            }
        }
    }

    /// <summary>
    /// Waits until a port's counters show what a test expects: a port counts a frame just after its device took it,
    /// so a test that has just read the frame may look a moment early. Bounded; fails with the last value seen.
    /// </summary>
    private static async Task CountsAsync(Func<long> counter, long expected)
    {
        using var cts = new CancellationTokenSource(Wait);
        while (counter() != expected && !cts.IsCancellationRequested)
        {
            await Task.Delay(5);
        }

        Assert.Equal(expected, counter());
    }

    [Fact]
    public async Task UnknownUnicastIsFloodedUntilLearnedThenGoesOnlyToItsPort()
    {
        var a = Attach(_switch);
        var b = Attach(_switch);
        var c = Attach(_switch);

        // A to B before B is known: flooded to B and C.
        await a.Host.WriteAsync(Frame(b.Host.MacAddress, a.Host.MacAddress));
        Assert.Equal(b.Host.MacAddress, MacAddress.Read(await ReceiveAsync(b.Listener)));
        Assert.Equal(b.Host.MacAddress, MacAddress.Read(await ReceiveAsync(c.Listener)));

        // B answers: A was learned from its first frame, so only A gets it; B is learned now.
        await b.Host.WriteAsync(Frame(a.Host.MacAddress, b.Host.MacAddress));
        Assert.Equal(a.Host.MacAddress, MacAddress.Read(await ReceiveAsync(a.Listener)));

        for (int i = 0; i < 10; i++)
        {
            await a.Host.WriteAsync(Frame(b.Host.MacAddress, a.Host.MacAddress, 100 + i));
            Assert.Equal(100 + i, (await ReceiveAsync(b.Listener)).Length);
        }

        await SettleAsync(a.Host, b.Listener, c.Listener);
        Assert.Equal(0, c.Listener.Count); // C saw no unicast once A and B were learned
        await CountsAsync(() => c.Port.TxFrames, 2); // the first flood and the marker
        await CountsAsync(() => c.Port.Flooded, 2);
        await CountsAsync(() => a.Port.RxFrames, 12);
        await CountsAsync(() => b.Port.TxFrames, 12);
        await CountsAsync(() => b.Port.Flooded, 2);
        Assert.Equal(2, _switch.GetAddressTable().Count);
        Assert.Contains(_switch.GetAddressTable(), e => e.MacAddress == a.Host.MacAddress && e.Port == a.Port && e.Vlan == 0);
    }

    [Fact]
    public async Task VlanTagsArePassedThroughAndLearnedPerVlan()
    {
        var a = Attach(_switch);
        var b = Attach(_switch);
        var c = Attach(_switch);
        byte[] tagged = Frame(b.Host.MacAddress, a.Host.MacAddress, 80, vlan: 0x2064); // priority 1, VLAN 100
        await a.Host.WriteAsync(tagged);
        Assert.Equal(tagged, await ReceiveAsync(b.Listener));
        Assert.Equal(tagged, await ReceiveAsync(c.Listener));
        MacTableEntry learned = Assert.Single(_switch.GetAddressTable());
        Assert.Equal((a.Host.MacAddress, 100), (learned.MacAddress, learned.Vlan));

        // B is learned in VLAN 100 only: an untagged frame to B is still unknown, so flooded.
        await b.Host.WriteAsync(Frame(a.Host.MacAddress, b.Host.MacAddress, 80, vlan: 100));
        Assert.Equal(100, BinaryPrimitives.ReadUInt16BigEndian((await ReceiveAsync(a.Listener)).AsSpan(14)) & 0xFFF);
        await a.Host.WriteAsync(Frame(b.Host.MacAddress, a.Host.MacAddress, 70));
        Assert.Equal(70, (await ReceiveAsync(b.Listener)).Length);
        Assert.Equal(70, (await ReceiveAsync(c.Listener)).Length);
    }

    [Fact]
    public async Task EveryDropIsCountedOnItsPort()
    {
        var a = Attach(_switch);
        var small = Attach(_switch, mtu: 576);
        var b = Attach(_switch);

        // Over the small port's MTU: refused by its device, counted as that port's drop; the others got it.
        await a.Host.WriteAsync(Frame(MacAddress.Broadcast, a.Host.MacAddress, 1000));
        Assert.Equal(1000, (await ReceiveAsync(b.Listener)).Length);
        await SettleAsync(a.Host, b.Listener, small.Listener);
        await CountsAsync(() => small.Port.TxDrops, 1);

        // A frame whose destination is behind the port it came from is filtered, and counted.
        await b.Host.WriteAsync(Frame(a.Host.MacAddress, b.Host.MacAddress));
        await ReceiveAsync(a.Listener);
        MacAddress other = MacAddress.CreateRandom();
        await a.Host.WriteAsync(Frame(other, a.Host.MacAddress)); // flooded: "other" unknown
        await ReceiveAsync(b.Listener);
        await a.Host.WriteAsync(Frame(a.Host.MacAddress, other)); // "other", behind port A, sends to A, also behind port A
        await SettleAsync(a.Host, b.Listener, small.Listener); // through the same port, so after that frame

        await CountsAsync(() => a.Port.Filtered, 1);
    }

    [Fact]
    public async Task APortWhoseDeviceGoesLeavesTheSwitchAndItsAddressesAreForgotten()
    {
        var a = Attach(_switch);
        var b = Attach(_switch);
        await b.Host.WriteAsync(Frame(MacAddress.Broadcast, b.Host.MacAddress));
        await ReceiveAsync(a.Listener);
        Assert.Single(_switch.GetAddressTable());

        await b.Port.Device.DisconnectAsync();
        await b.Port.Reading!.WaitAsync(Wait);
        Assert.False(b.Port.IsConnected);
        Assert.Single(_switch.Ports);
        Assert.Empty(_switch.GetAddressTable());
        Assert.False(NetworkSwitch.TryGetPort(b.Port.Device, out _));
    }

    [Fact]
    public async Task ADeviceJoinsOneSwitchOnceAndCanBeDisconnectedAndJoinedAgain()
    {
        var a = Attach(_switch);
        DeviceException twice = Assert.Throws<DeviceException>(() => _switch.Connect(a.Port.Device));
        Assert.Equal(DeviceErrorIds.Network.SwitchPortInUse, twice.ErrorId);
        await using var other = new NetworkSwitch("sw-other");
        Assert.Equal(DeviceErrorIds.Network.SwitchPortInUse, Assert.Throws<DeviceException>(() => other.Connect(a.Port.Device)).ErrorId);

        await _switch.DisconnectAsync(a.Port);
        Assert.Empty(_switch.Ports);
        Assert.True(a.Port.Device.IsConnected); // the device stays open
        SwitchPort again = other.Connect(a.Port.Device);
        Assert.Equal(1, again.Number);
    }

    [Fact]
    public async Task AgedAddressesAreFloodedToAgain()
    {
        await using var quick = new NetworkSwitch("sw-ageing", ageingTime: TimeSpan.FromMilliseconds(50));
        var a = Attach(quick);
        var b = Attach(quick);
        var c = Attach(quick);
        await b.Host.WriteAsync(Frame(MacAddress.Broadcast, b.Host.MacAddress));
        await ReceiveAsync(a.Listener);
        await ReceiveAsync(c.Listener);
        await Task.Delay(300); // well past the 50 ms ageing time
        Assert.Empty(quick.GetAddressTable());
        await a.Host.WriteAsync(Frame(b.Host.MacAddress, a.Host.MacAddress));
        await ReceiveAsync(b.Listener);
        Assert.Equal(b.Host.MacAddress, MacAddress.Read(await ReceiveAsync(c.Listener))); // flooded: B was forgotten
    }

    [Fact]
    public async Task TwoSwitchesJoinedByAnInMemoryCableForwardBetweenTheirPorts()
    {
        await using var second = new NetworkSwitch("sw-second");
        var a = Attach(_switch);
        var b = Attach(second);
        var (left, right) = MemoryNetworkDevice.CreatePair();
        _devices.Add(left);
        _devices.Add(right);
        _switch.Connect(left);
        second.Connect(right);
        await a.Host.WriteAsync(Frame(MacAddress.Broadcast, a.Host.MacAddress, 90));
        Assert.Equal(90, (await ReceiveAsync(b.Listener)).Length);
        await b.Host.WriteAsync(Frame(a.Host.MacAddress, b.Host.MacAddress, 91));
        Assert.Equal(91, (await ReceiveAsync(a.Listener)).Length);
    }
}
