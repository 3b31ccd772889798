namespace VirtualDevices.PowerShell.Commands.Block;

/// <summary>
/// <para type="synopsis">Closes block devices open in the session (any kind: file, memory, NBD).</para>
/// </summary>
[Cmdlet(VerbsCommon.Close, "BlockDevice", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium, HelpUri = "https://github.com/VirtualDevices/VirtualDevices/blob/main/docs/VirtualDevices/Close-BlockDevice.md")]
[OutputType(typeof(void))]
public sealed class CloseBlockDeviceCommand : BlockDeviceDisconnectCommand
{
    /// <inheritdoc/>
    protected override string Action => "Close";
}
