using System.Net;
using PacketDotNet;
using VirtualDevices.Network;
using VirtualDevices.Network.Capture;
using VirtualDevices.Network.Frames;

namespace VirtualDevices.Tests.Network.Capture;

/// <summary>Built frames and the one-line decoder, checked by tshark's dissectors; the on-demand dissection by PacketDotNet.</summary>
public sealed class FrameDecodingTests
{
    [Fact]
    public async Task TsharkFindsTheBuiltFramesWellFormedWithGoodChecksums()
    {
        using var dir = new TempDirectory();
        string path = PcapNgTests.WriteSample(dir);
        string[][] rows = await Tshark.FieldsAsync(path,
            ["arp.opcode", "arp.src.proto_ipv4", "arp.dst.proto_ipv4", "arp.src.hw_mac", "ip.checksum.status", "icmp.checksum.status", "icmp.type", "icmp.ident", "icmp.seq", "ip.ttl", "vlan.id", "_ws.expert"],
            "ip.check_checksum:TRUE");
        Assert.Equal(["1", "10.0.0.1", "10.0.0.2", "02:00:00:00:00:0a"], rows[0][..4]);
        Assert.Equal(["2", "10.0.0.2", "10.0.0.1", "02:00:00:00:00:0b"], rows[1][..4]);
        // 1 is Good: tshark recomputed both checksums and they match.
        Assert.Equal(["1", "1", "8", "4660", "1", "64"], rows[2][4..10]);
        Assert.Equal(["1", "1", "0", "4660", "1", "64"], rows[3][4..10]);
        Assert.Equal("100", rows[5][10]);
        // No expert warnings (malformed, bad checksum) on any built frame.
        Assert.All(rows.Take(6), r => Assert.Equal(string.Empty, r.Length > 11 ? r[11] : string.Empty));
    }

    [Fact]
    public async Task TheProtocolIsNamedAsTsharksProtocolColumnNamesIt()
    {
        using var dir = new TempDirectory();
        string path = PcapNgTests.WriteSample(dir);
        string[][] rows = await Tshark.FieldsAsync(path, ["_ws.col.Protocol"]);
        var ours = PcapNgTests.SampleFrames().Select(f => new EthernetFrame("x", 0, FrameDirection.Unknown, f.Data).Protocol).ToArray();
        Assert.Equal(rows.Select(r => r[0]), ours);
    }

    [Fact]
    public void LayersAndFiltersReadTheFrameInPlace()
    {
        var frames = PcapNgTests.SampleFrames().Select(f => new EthernetFrame("x", 0, FrameDirection.Unknown, f.Data)).ToArray();
        Assert.Equal(FrameLayers.Ethernet | FrameLayers.Arp, frames[0].Layers);
        Assert.Equal(FrameLayers.Ethernet | FrameLayers.IPv4 | FrameLayers.Icmp, frames[2].Layers);
        Assert.Equal(FrameLayers.Ethernet | FrameLayers.Vlan, frames[5].Layers);
        Assert.Equal(FrameLayers.Ethernet | FrameLayers.IPv6 | FrameLayers.Icmpv6, frames[8].Layers);
        var udp = new FrameFilter { Layers = FrameLayers.Udp };
        Assert.Equal([6], Enumerable.Range(0, frames.Length).Where(i => udp.Matches(frames[i].Data)));
        var arpOrVlan = new FrameFilter { EtherTypes = [0x0806, 0x88b5] };
        Assert.Equal([0, 1, 4, 5], Enumerable.Range(0, frames.Length).Where(i => arpOrVlan.Matches(frames[i].Data)));
        var vlan100 = new FrameFilter { VlanId = 100 };
        Assert.Equal([5], Enumerable.Range(0, frames.Length).Where(i => vlan100.Matches(frames[i].Data)));
        Assert.True(new FrameFilter().Matches(frames[3].Data));
    }

    [Fact]
    public void TheFullDissectionIsPacketDotNets()
    {
        byte[] echo = FrameBuilder.IcmpEcho(MacAddress.Parse("02:00:00:00:00:0b"), MacAddress.Parse("02:00:00:00:00:0a"),
            IPAddress.Parse("10.0.0.1"), IPAddress.Parse("10.0.0.2"), 7, 9, "ping"u8);
        Packet packet = new EthernetFrame("net0", 0, FrameDirection.Outbound, echo).Dissect();
        IcmpV4Packet icmp = packet.Extract<IcmpV4Packet>();
        Assert.Equal(IcmpV4TypeCode.EchoRequest, icmp.TypeCode);
        Assert.Equal(9, icmp.Sequence);
        Assert.Equal(IPAddress.Parse("10.0.0.2"), packet.Extract<IPv4Packet>().DestinationAddress);
        Assert.True(packet.Extract<IPv4Packet>().ValidIPChecksum);
        Assert.Contains("10.0.0.2", packet.ToString(StringOutputType.Verbose), StringComparison.Ordinal);
    }

    [Fact]
    public void BuildersRefuseWhatCannotBeSent()
    {
        Assert.Throws<ArgumentException>(() => FrameBuilder.ArpRequest(MacAddress.Zero, IPAddress.IPv6Loopback, IPAddress.Loopback));
        Assert.Throws<ArgumentOutOfRangeException>(() => FrameBuilder.Raw(MacAddress.Broadcast, MacAddress.Zero, 0x88b5, [], vlanId: 4096));
        Assert.Equal(FrameBuilder.MinimumFrameLength, FrameBuilder.Raw(MacAddress.Broadcast, MacAddress.Zero, 0x88b5, [1]).Length);
        Assert.Equal(0, InternetChecksum.Compute(FrameBuilder.IcmpEcho(MacAddress.Broadcast, MacAddress.Zero, IPAddress.Loopback, IPAddress.Loopback, 1, 1, [1, 2, 3]).AsSpan(14, 20)));
    }
}
