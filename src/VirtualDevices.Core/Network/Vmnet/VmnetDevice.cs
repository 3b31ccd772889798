namespace VirtualDevices.Network.Vmnet;

/// <summary>A macOS vmnet.framework interface as a network device (placeholder while the binding is written).</summary>
public sealed class VmnetDevice
{
    /// <summary>The driver's name.</summary>
    public const string DriverName = "vmnet";

    /// <summary>Starts a vmnet interface.</summary>
    /// <param name="options">What it is made with.</param>
    public static NetworkDevice Start(VirtualInterfaceOptions options) =>
        throw new DeviceException(DeviceErrorIds.Network.InterfaceUnsupported, DeviceErrorCategory.NotImplemented,
            "vmnet interfaces are not implemented yet.", options.Name);
}
