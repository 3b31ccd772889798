using System.Net;
using System.Text;
using VirtualDevices.Devices;
using VirtualDevices.Network;
using VirtualDevices.Network.Tap;
using VirtualDevices.Tests.Infrastructure;

namespace VirtualDevices.Tests.Network.Tap;

/// <summary>
/// The Linux kernel as the peer of our TAP device. Each test makes a namespace of its own and our TAP inside it
/// (TapDevice enters the namespace with setns to open /dev/net/tun and configure the interface, so the interface's
/// kernel side is that namespace's stack); the host side of the link gets 10.R.R.1/24, and the test plays a guest at
/// 10.R.R.2 with a MAC of its own, speaking to the kernel through the device.
/// </summary>
public sealed class TapKernelTests
{
    private const int TestTimeout = 90_000;
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(20);

    [RootFact(Timeout = TestTimeout)]
    public async Task TheKernelAnswersAnArpRequestAndAPingAndItsCountersMatchOurs()
    {
        await using TestNamespace ns = await TestNamespace.CreateAsync();
        string subnet = TestNamespace.RandomSubnet();
        IPAddress host = IPAddress.Parse(subnet + ".1"), guest = IPAddress.Parse(subnet + ".2");
        MacAddress tapMac = MacAddress.Parse("02:00:5e:10:00:01"), guestMac = MacAddress.CreateRandom();
        await using TapDevice tap = TapDevice.Create(new VirtualInterfaceOptions
        {
            Name = "vdt%d", Namespace = ns.Name, MacAddress = tapMac, Mtu = 1400, HostAddress = host, PrefixLength = 24,
        });
        Assert.StartsWith("vdt", tap.Name, StringComparison.Ordinal);
        Assert.Equal((tapMac, 1400), (tap.MacAddress, tap.Mtu));
        string link = await ns.ExecAsync("ip", "-o", "addr", "show", "dev", tap.InterfaceName);
        Assert.Contains($"inet {host}/24", link, StringComparison.Ordinal);

        using FrameReader listener = tap.OpenListener();
        var seen = new List<byte[]>();

        // ARP: who has .1? The kernel answers from the TAP's MAC, to ours.
        await tap.WriteAsync(TestFrames.ArpRequest(guestMac, guest, host));
        byte[] reply = await TestFrames.WaitForAsync(listener, f => TestFrames.ParseArp(f) is { Operation: 2 } a && a.SenderIp.Equals(host), Wait, seen);
        var arp = TestFrames.ParseArp(reply)!.Value;
        Assert.Equal((tapMac, guestMac, guest), (arp.Sender, TestFrames.Destination(reply), arp.TargetIp));

        // ICMP echo: the kernel replies with the same identifier, sequence and payload.
        byte[] payload = Encoding.ASCII.GetBytes("virtualdevices tap ping 0123456789");
        await tap.WriteAsync(TestFrames.IcmpEcho(tapMac, guestMac, guest, host, 0x5644, 1, payload));
        byte[] echo = await TestFrames.WaitForAsync(listener, f => TestFrames.ParseIPv4(f) is { Protocol: 1 } ip && ip.Payload[0] == 0, Wait, seen);
        var icmp = TestFrames.ParseIPv4(echo)!.Value;
        Assert.Equal((host, guest), (icmp.Source, icmp.Destination));
        Assert.Equal(0x56, icmp.Payload[4]);
        Assert.Equal(0x44, icmp.Payload[5]);
        Assert.Equal(payload, icmp.Payload[8..]);

        // Our counters and the kernel's: what we received it transmitted, and the other way round.
        var ours = (NetworkStatistics)tap.GetStatistics();
        Assert.Equal(2, ours.TxPackets);
        Assert.Equal(seen.Count, ours.RxPackets);
        Assert.Equal(ours.RxPackets, await ns.KernelCounterAsync(tap.InterfaceName, "tx_packets"));
        Assert.Equal(ours.RxBytes, await ns.KernelCounterAsync(tap.InterfaceName, "tx_bytes"));
        Assert.Equal(ours.TxPackets, await ns.KernelCounterAsync(tap.InterfaceName, "rx_packets"));
        Assert.Equal(ours.TxBytes, await ns.KernelCounterAsync(tap.InterfaceName, "rx_bytes"));
        Assert.Equal(0, await ns.KernelCounterAsync(tap.InterfaceName, "tx_dropped"));
        Assert.Equal((0L, 0L, 0L), (ours.RxDrops, ours.RxErrors, ours.TxErrors));
    }

    [RootFact(Timeout = TestTimeout)]
    public async Task FramesTheKernelSendsAreReceivedAndDecodedRight()
    {
        await using TestNamespace ns = await TestNamespace.CreateAsync();
        string subnet = TestNamespace.RandomSubnet();
        IPAddress host = IPAddress.Parse(subnet + ".1"), guest = IPAddress.Parse(subnet + ".2");
        MacAddress guestMac = MacAddress.CreateRandom();
        await using TapDevice tap = TapDevice.Create(new VirtualInterfaceOptions { Namespace = ns.Name, HostAddress = host });
        Assert.StartsWith("vdtap", tap.InterfaceName, StringComparison.Ordinal);
        using FrameReader listener = tap.OpenListener();

        // A UDP datagram from the namespace to the guest: the kernel first asks who has .2, then sends it once answered.
        Task<ProcessResult> send = ExternalProcess.RunAsync("ip", ["netns", "exec", ns.Name, "bash", "-c", $"echo hello-from-the-kernel > /dev/udp/{guest}/9"], TimeSpan.FromSeconds(30));
        byte[] request = await TestFrames.WaitForAsync(listener, f => TestFrames.ParseArp(f) is { Operation: 1 } a && a.TargetIp.Equals(guest), Wait);
        var who = TestFrames.ParseArp(request)!.Value;
        Assert.Equal((tap.MacAddress, host), (who.Sender, who.SenderIp));
        Assert.True(TestFrames.Destination(request).IsBroadcast);
        await tap.WriteAsync(TestFrames.ArpReply(guestMac, guest, tap.MacAddress, host));

        byte[] datagram = await TestFrames.WaitForAsync(listener, f => TestFrames.ParseIPv4(f) is { Protocol: 17 }, Wait);
        var udp = TestFrames.ParseIPv4(datagram)!.Value;
        Assert.Equal((guestMac, tap.MacAddress), (TestFrames.Destination(datagram), TestFrames.Source(datagram)));
        Assert.Equal((host, guest), (udp.Source, udp.Destination));
        Assert.Equal(9, (udp.Payload[2] << 8) | udp.Payload[3]);
        Assert.Equal("hello-from-the-kernel\n", Encoding.ASCII.GetString(udp.Payload, 8, udp.Payload.Length - 8));
        (await send).EnsureSuccess("the UDP send");
    }

    [RootFact(Timeout = TestTimeout)]
    public async Task AnInterfaceDeletedUnderneathIsATypedDisconnectNotAHang()
    {
        await using TestNamespace ns = await TestNamespace.CreateAsync();
        await using TapDevice tap = TapDevice.Create(new VirtualInterfaceOptions { Namespace = ns.Name });
        using FrameReader listener = tap.OpenListener();
        var disconnected = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        tap.Disconnected += (_, _) => disconnected.TrySetResult();
        Task<bool> waiting = listener.WaitToReadAsync().AsTask();

        await ns.ExecAsync("ip", "link", "del", tap.InterfaceName);

        await disconnected.Task.WaitAsync(Wait);
        Assert.False(tap.IsConnected);
        DeviceDisconnectedException read = await Assert.ThrowsAsync<DeviceDisconnectedException>(() => waiting.WaitAsync(Wait));
        Assert.Contains("ip link del", read.Message, StringComparison.Ordinal);
        await Assert.ThrowsAsync<DeviceDisconnectedException>(() => tap.WriteAsync(new byte[60]).AsTask());
    }

    [RootFact(Timeout = TestTimeout)]
    public async Task AFrameOverTheMtuIsRefusedWithATypedErrorAndCounted()
    {
        await using TestNamespace ns = await TestNamespace.CreateAsync();
        await using TapDevice tap = TapDevice.Create(new VirtualInterfaceOptions { Namespace = ns.Name, Mtu = 1280 });
        Assert.Equal(1280 + 18, tap.MaxFrameSize);
        FrameSizeException error = await Assert.ThrowsAsync<FrameSizeException>(() => tap.WriteAsync(new byte[tap.MaxFrameSize + 1]).AsTask());
        Assert.Equal(DeviceErrorIds.Network.FrameSizeInvalid, error.ErrorId);
        await Assert.ThrowsAsync<FrameSizeException>(() => tap.WriteAsync(new byte[13]).AsTask());
        var stats = (NetworkStatistics)tap.GetStatistics();
        Assert.Equal((2L, 0L), (stats.TxErrors, stats.TxPackets));
        Assert.Equal(0, await ns.KernelCounterAsync(tap.InterfaceName, "rx_packets"));
    }

    [RootFact(Timeout = TestTimeout)]
    public async Task NamesFollowTheKernelsRules()
    {
        DeviceException tooLong = Assert.Throws<DeviceException>(() => TapDevice.Create(new VirtualInterfaceOptions { Name = "sixteen-bytes-xx" }));
        Assert.Equal(DeviceErrorIds.Network.InterfaceNameInvalid, tooLong.ErrorId);
        foreach (string bad in new[] { "a/b", "a b", ".", "a:1", "x%s" })
        {
            Assert.Equal(DeviceErrorIds.Network.InterfaceNameInvalid, Assert.Throws<DeviceException>(() => TapDevice.Create(new VirtualInterfaceOptions { Name = bad })).ErrorId);
        }

        DeviceException missing = Assert.Throws<DeviceException>(() => TapDevice.Create(new VirtualInterfaceOptions { Namespace = "vdtest-does-not-exist" }));
        Assert.Equal(DeviceErrorIds.Network.NamespaceNotFound, missing.ErrorId);

        await using TestNamespace ns = await TestNamespace.CreateAsync();
        await using TapDevice fifteen = TapDevice.Create(new VirtualInterfaceOptions { Name = "fifteen-bytes-x", Namespace = ns.Name });
        Assert.Equal("fifteen-bytes-x", fifteen.InterfaceName);
        Assert.Equal("fifteen-bytes-x", fifteen.Name);
    }

    [RootFact(Timeout = TestTimeout)]
    public async Task APersistentInterfaceOutlivesItsDeviceAndANonPersistentOneDoesNot()
    {
        await using TestNamespace ns = await TestNamespace.CreateAsync();
        TapDevice persistent = TapDevice.Create(new VirtualInterfaceOptions { Name = "vdkeep", Namespace = ns.Name, Persistent = true });
        TapDevice transient = TapDevice.Create(new VirtualInterfaceOptions { Name = "vdgone", Namespace = ns.Name });
        await persistent.DisposeAsync();
        await transient.DisposeAsync();
        string links = await ns.ExecAsync("ip", "-o", "link", "show");
        Assert.Contains("vdkeep", links, StringComparison.Ordinal);
        Assert.DoesNotContain("vdgone", links, StringComparison.Ordinal);

        // A persistent interface is attached to again by name, as another program would.
        await using TapDevice again = TapDevice.Create(new VirtualInterfaceOptions { Name = "vdkeep", Namespace = ns.Name });
        Assert.True(again.IsConnected);
    }

    [RootFact(Timeout = TestTimeout)]
    public async Task AMultiQueueTapHasItsQueuesAndCarriesFrames()
    {
        await using TestNamespace ns = await TestNamespace.CreateAsync();
        string subnet = TestNamespace.RandomSubnet();
        IPAddress host = IPAddress.Parse(subnet + ".1"), guest = IPAddress.Parse(subnet + ".2");
        MacAddress guestMac = MacAddress.CreateRandom();
        await using TapDevice tap = TapDevice.Create(new VirtualInterfaceOptions { Namespace = ns.Name, Queues = 4, HostAddress = host });
        Assert.Equal(4, tap.QueueCount);
        string details = await ns.ExecAsync("ip", "-d", "link", "show", tap.InterfaceName);
        Assert.Contains("tun type tap pi off vnet_hdr off multi_queue numqueues 4", details, StringComparison.Ordinal);

        using FrameReader listener = tap.OpenListener();
        for (int i = 0; i < 4; i++)
        {
            // Written round-robin over the queues: each request is answered.
            await tap.WriteAsync(TestFrames.ArpRequest(guestMac, guest, host));
            await TestFrames.WaitForAsync(listener, f => TestFrames.ParseArp(f) is { Operation: 2 }, Wait);
        }

        Assert.Equal(4, await ns.KernelCounterAsync(tap.InterfaceName, "rx_packets"));
    }

    [RootFact(Timeout = TestTimeout)]
    public async Task BridgedModeMakesTheTapAPortOfTheNamedBridge()
    {
        await using TestNamespace ns = await TestNamespace.CreateAsync();
        DeviceException missing = Assert.Throws<DeviceException>(() => TapDevice.Create(new VirtualInterfaceOptions
        {
            Namespace = ns.Name, Mode = NetworkInterfaceMode.Bridged, BridgeName = "vdbr0",
        }));
        Assert.Equal(DeviceErrorIds.Network.BridgeNotFound, missing.ErrorId);
        Assert.DoesNotContain("vdtap", await ns.ExecAsync("ip", "-o", "link", "show"), StringComparison.Ordinal);

        await ns.ExecAsync("ip", "link", "add", "vdbr0", "type", "bridge");
        await using TapDevice tap = TapDevice.Create(new VirtualInterfaceOptions { Namespace = ns.Name, Mode = NetworkInterfaceMode.Bridged, BridgeName = "vdbr0" });
        Assert.Equal("vdbr0", tap.BridgeName);
        Assert.Contains("master vdbr0", await ns.ExecAsync("ip", "-o", "link", "show", tap.InterfaceName), StringComparison.Ordinal);
        Assert.Contains(",UP", await ns.ExecAsync("ip", "-o", "link", "show", tap.InterfaceName), StringComparison.Ordinal);
    }

    [RootFact(Timeout = TestTimeout, Needs = "nft")]
    public async Task SharedModeAddsItsNatTableAndForwardingAndRemovesThemAtStop()
    {
        string hostForwarding = (await File.ReadAllTextAsync("/proc/sys/net/ipv4/ip_forward")).Trim();
        await using TestNamespace ns = await TestNamespace.CreateAsync();
        string subnet = TestNamespace.RandomSubnet();
        TapDevice tap = TapDevice.Create(new VirtualInterfaceOptions
        {
            Namespace = ns.Name, Mode = NetworkInterfaceMode.Shared, HostAddress = IPAddress.Parse(subnet + ".1"), PrefixLength = 24,
        });
        string table = await ns.ExecAsync("nft", "list", "table", "ip", tap.NatTable!);
        Assert.Contains($"ip saddr {subnet}.0/24 oifname != \"{tap.InterfaceName}\" masquerade", table, StringComparison.Ordinal);
        Assert.Equal("1", (await ns.ExecAsync("cat", "/proc/sys/net/ipv4/ip_forward")).Trim());
        Assert.Equal(hostForwarding, (await File.ReadAllTextAsync("/proc/sys/net/ipv4/ip_forward")).Trim()); // only the namespace's changed

        await tap.DisposeAsync();
        Assert.DoesNotContain(tap.NatTable!, await ns.ExecAsync("nft", "list", "tables"), StringComparison.Ordinal);
        Assert.Equal("0", (await ns.ExecAsync("cat", "/proc/sys/net/ipv4/ip_forward")).Trim());
        Assert.Equal(hostForwarding, (await File.ReadAllTextAsync("/proc/sys/net/ipv4/ip_forward")).Trim());
    }
}
