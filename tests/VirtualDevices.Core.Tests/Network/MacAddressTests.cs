using VirtualDevices.Network;

namespace VirtualDevices.Tests.Network;

public sealed class MacAddressTests
{
    [Theory]
    [InlineData("00:16:3e:12:34:56")]
    [InlineData("00-16-3E-12-34-56")]
    [InlineData("00163e123456")]
    public void ParsesTheUsualSpellings(string text)
    {
        Assert.Equal("00:16:3e:12:34:56", MacAddress.Parse(text).ToString());
    }

    [Theory]
    [InlineData("")]
    [InlineData("00:16:3e:12:34")]
    [InlineData("00:16:3e:12:34:56:78")]
    [InlineData("00:16-3e:12:34:56")]
    [InlineData("0g:16:3e:12:34:56")]
    [InlineData(":00:16:3e:12:34:56")]
    public void RefusesMalformedText(string text)
    {
        Assert.False(MacAddress.TryParse(text, out _));
        Assert.Throws<FormatException>(() => MacAddress.Parse(text));
    }

    [Fact]
    public void RoundTripsThroughBytesAndKnowsItsBits()
    {
        MacAddress address = MacAddress.Parse("01:00:5e:00:00:fb");
        var bytes = new byte[6];
        address.Write(bytes);
        Assert.Equal(Convert.FromHexString("01005e0000fb"), bytes);
        Assert.Equal(address, MacAddress.Read(bytes));
        Assert.True(address.IsMulticast);
        Assert.False(address.IsBroadcast);
        Assert.True(MacAddress.Broadcast.IsBroadcast);
        MacAddress random = MacAddress.CreateRandom();
        Assert.True(random.IsLocallyAdministered);
        Assert.False(random.IsMulticast);
    }
}
