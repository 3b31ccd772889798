using VirtualDevices.Network;
using VirtualDevices.Network.Tap;
using VirtualDevices.Network.Vmnet;

namespace VirtualDevices.PowerShell.Commands.Network;

/// <summary>
/// <para type="synopsis">Stops virtual interfaces started by Start-VmnetInterface: the device disconnects, the interface goes (unless persistent), and it leaves the session.</para>
/// <para type="description">
/// Takes the devices (or their names) from the pipeline. Shared mode's NAT table and forwarding are removed; a
/// switch the device was a port of drops the port. A device that is not a virtual interface is refused (close it
/// with its own command).
/// </para>
/// </summary>
[Cmdlet(VerbsLifecycle.Stop, "VmnetInterface", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium, HelpUri = "https://github.com/VirtualDevices/VirtualDevices/blob/main/docs/VirtualDevices/Stop-VmnetInterface.md")]
[OutputType(typeof(void))]
public sealed class StopVmnetInterfaceCommand : NetworkDeviceCloseCommand
{
    /// <inheritdoc/>
    protected override string Action => "Stop the interface";

    /// <inheritdoc/>
    protected override string? Refuses(IDevice device) =>
        device is NetworkDevice { Driver: TapDevice.DriverName or VmnetDevice.DriverName }
            ? null
            : $"'{device.Name}' is a {device.Driver} device, not a virtual interface started by Start-VmnetInterface.";
}
