using VirtualDevices.PowerShell.Commands.Block;

namespace VirtualDevices.PowerShell.Commands.Nbd;

/// <summary>
/// <para type="synopsis">Disconnects NBD devices: pending requests end, the server is told (NBD_CMD_DISC), the device leaves the session.</para>
/// </summary>
[Cmdlet(VerbsCommunications.Disconnect, "NbdDevice", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium, HelpUri = "https://github.com/VirtualDevices/VirtualDevices/blob/main/docs/VirtualDevices/Disconnect-NbdDevice.md")]
[OutputType(typeof(void))]
public sealed class DisconnectNbdDeviceCommand : BlockDeviceDisconnectCommand
{
    /// <inheritdoc/>
    protected override string Action => "Disconnect";

    /// <inheritdoc/>
    protected override Exception? Refuse(IBlockDevice device) => device is NbdBlockDevice
        ? null
        : new ArgumentException($"'{device.Name}' is a {device.Driver} device, not an NBD device; use Close-BlockDevice.");
}
