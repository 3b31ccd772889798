namespace VirtualDevices.Xen.EventChannels;

/// <summary>
/// Event channels on real Xen, through Linux's <c>/dev/xen/evtchn</c>: each channel binds its port through its own
/// open of the device, so that its waiter polls a descriptor of its own.
/// </summary>
/// <remarks>An open of the device costs one descriptor; a split driver has one or two channels per device.</remarks>
public sealed class XenEventChannels : IEventChannels
{
    private XenEventChannels(string path)
    {
        Path = path;
    }

    /// <summary>The device node.</summary>
    public string Path { get; }

    /// <summary>Checks that the device can be opened and returns the channels' factory.</summary>
    /// <param name="path">The node, <c>/dev/xen/evtchn</c> unless told.</param>
    /// <exception cref="XenDeviceException">The device is missing (<see cref="DeviceErrorIds.Xen.NotFound"/>), may not be opened, or the open failed.</exception>
    public static XenEventChannels Open(string path = EventChannelDevice.DefaultPath)
    {
        EventChannelDevice.Open(path).Dispose();
        return new XenEventChannels(path);
    }

    /// <inheritdoc/>
    public IEventChannel AllocateUnbound(ushort remoteDomain) => Bind(remoteDomain, device => device.BindUnboundPort(remoteDomain));

    /// <inheritdoc/>
    public IEventChannel BindInterdomain(ushort remoteDomain, uint remotePort) => Bind(remoteDomain, device => device.BindInterdomain(remoteDomain, remotePort));

    /// <summary>Nothing to release: each channel owns its open of the device.</summary>
    public void Dispose()
    {
    }

    private XenEventChannel Bind(ushort remoteDomain, Func<EventChannelDevice, uint> bind)
    {
        EventChannelDevice device = EventChannelDevice.Open(Path);
        try
        {
            return new XenEventChannel(device, bind(device), remoteDomain);
        }
        catch
        {
            device.Dispose();
            throw;
        }
    }
}
