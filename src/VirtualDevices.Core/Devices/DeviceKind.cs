namespace VirtualDevices.Devices;

/// <summary>The two families of device the toolkit drives.</summary>
public enum DeviceKind
{
    /// <summary>A device of fixed-size sectors (disk image, NBD export, Xen vbd).</summary>
    Block,
    /// <summary>A device of Ethernet frames (TAP, vmnet, Xen vif).</summary>
    Network,
}
