using VirtualDevices.Network;

namespace VirtualDevices.Tests.Network;

public sealed class EthernetFrameTests
{
    private const string Header = "020000000002" + "020000000001";

    [Theory]
    [InlineData(Header + "0800" + "4500001c0000400040110000" + "0a000001" + "0a000002" + "303900350008" + "0000", "IP 10.0.0.1.12345 > 10.0.0.2.53: UDP, length 0")]
    [InlineData(Header + "0800" + "450000280000400040060000" + "0a000001" + "0a000002" + "c00001bb0000000000000000" + "5002", "IP 10.0.0.1.49152 > 10.0.0.2.443: TCP [S]")]
    [InlineData(Header + "0800" + "450000540000400040010000" + "0a000001" + "0a000002" + "0800", "IP 10.0.0.1 > 10.0.0.2: ICMP echo request")]
    [InlineData(Header + "86dd" + "60000000000811ff" + "fe800000000000000000000000000001" + "ff020000000000000000000000000001" + "0222022300080000", "IP6 fe80::1.546 > ff02::1.547: UDP, length 0")]
    [InlineData(Header + "0806" + "0001080006040002" + "020000000001" + "0a000001" + "020000000002" + "0a000002", "ARP, Reply 10.0.0.1 is-at 02:00:00:00:00:01")]
    [InlineData(Header + "8100" + "0064" + "0800" + "4500001c0000400040110000" + "0a000001" + "0a000002" + "303900350008" + "0000", "vlan 100, IP 10.0.0.1.12345 > 10.0.0.2.53: UDP, length 0")]
    [InlineData(Header + "88b5" + "00", "ethertype 0x88b5, 1 bytes")]
    [InlineData(Header + "0800" + "45", "IPv4, malformed")]
    [InlineData(Header + "0800" + "4f00001400000000401100000000000000000000", "IPv4, bad header length")]
    [InlineData("0200", "truncated frame, 2 bytes")]
    public void SummarisesLikeTcpdump(string hex, string summary)
    {
        var frame = new EthernetFrame("net0", DateTimeOffset.UnixEpoch, Convert.FromHexString(hex));
        Assert.Equal(summary, frame.Summary);
        Assert.Equal(hex.Length / 2, frame.Length);
    }

    [Fact]
    public void DecodesVlanTags()
    {
        var frame = new EthernetFrame("net0", DateTimeOffset.UnixEpoch, Convert.FromHexString(Header + "8100" + "2064" + "86dd"));
        Assert.Equal(100, frame.VlanId);
        Assert.Equal(0x86dd, frame.EtherType);
        Assert.Equal(MacAddress.Parse("02:00:00:00:00:01"), frame.Source);
    }

    [Fact]
    public void RandomBytesNeverThrow()
    {
        var random = new Random(42);
        for (int i = 0; i < 20000; i++)
        {
            var bytes = new byte[random.Next(0, 120)];
            random.NextBytes(bytes);
            if (bytes.Length > 13 && i % 3 == 0)
            {
                bytes[12] = 0x08;
                bytes[13] = (byte)(i % 2 == 0 ? 0x00 : 0x06);
            }

            Assert.NotNull(new EthernetFrame("x", DateTimeOffset.UnixEpoch, bytes).Summary);
        }
    }
}
