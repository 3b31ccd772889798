using VirtualDevices.Devices;

namespace VirtualDevices.Tests.Devices;

public sealed class DeviceNamesTests
{
    [Fact]
    public void TheLatestNameCanBeGivenBackAndIsHandedOutAgain()
    {
        string prefix = "test" + Guid.NewGuid().ToString("N")[..6];
        Assert.Equal(prefix + "0", DeviceNames.Next(prefix));
        string failed = DeviceNames.Next(prefix);
        Assert.True(DeviceNames.Return(prefix, failed));
        Assert.Equal(failed, DeviceNames.Next(prefix));
    }

    [Fact]
    public void ANameHandedOutSinceStaysTaken()
    {
        string prefix = "test" + Guid.NewGuid().ToString("N")[..6];
        string failed = DeviceNames.Next(prefix);
        string later = DeviceNames.Next(prefix);
        Assert.False(DeviceNames.Return(prefix, failed));
        Assert.NotEqual(later, DeviceNames.Next(prefix));
        Assert.False(DeviceNames.Return(prefix, "other0"));
    }
}
