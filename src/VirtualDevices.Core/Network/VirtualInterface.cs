using VirtualDevices.Network.Tap;

namespace VirtualDevices.Network;

/// <summary>
/// Starts a virtual interface of this host as a network device, whatever the OS: a TAP on Linux
/// (<see cref="TapDevice"/>), a vmnet interface on macOS (<see cref="Vmnet.VmnetDevice"/>).
/// </summary>
public static class VirtualInterface
{
    /// <summary>Makes and configures the interface.</summary>
    /// <param name="options">What it is made with.</param>
    /// <exception cref="DeviceException">It cannot be made (ids of <see cref="DeviceErrorIds.Network"/>), or this OS has neither.</exception>
    public static NetworkDevice Start(VirtualInterfaceOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (OperatingSystem.IsLinux())
        {
            return TapDevice.Create(options);
        }

        if (OperatingSystem.IsMacOS())
        {
            return Vmnet.VmnetDevice.Start(options);
        }

        throw new DeviceException(DeviceErrorIds.Network.InterfaceUnsupported, DeviceErrorCategory.NotImplemented,
            "Virtual interfaces are made on Linux (TAP) and macOS (vmnet) only.", options.Name);
    }
}
