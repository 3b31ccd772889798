using VirtualDevices.Network;

namespace VirtualDevices.PowerShell.Commands.Network;

/// <summary>
/// <para type="synopsis">Closes network devices open in the session (any kind: an in-memory link's end, a TAP or vmnet interface).</para>
/// <para type="description">
/// Takes the devices (or their names) from the pipeline. Each device disconnects (its readers see the end after the
/// frames already received), leaves any switch it was a port of, and leaves the session. A device that is not a
/// network device is refused.
/// </para>
/// </summary>
[Cmdlet(VerbsCommon.Close, "NetworkDevice", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium, HelpUri = "https://github.com/VirtualDevices/VirtualDevices/blob/main/docs/VirtualDevices/Close-NetworkDevice.md")]
[OutputType(typeof(void))]
public sealed class CloseNetworkDeviceCommand : NetworkDeviceCloseCommand
{
    /// <inheritdoc/>
    protected override string Action => "Close the network device";

    /// <inheritdoc/>
    protected override string? Refuses(IDevice device) =>
        device is INetworkDevice ? null : $"'{device.Name}' is a {device.Driver} device, not a network device (close it with its own command).";
}
