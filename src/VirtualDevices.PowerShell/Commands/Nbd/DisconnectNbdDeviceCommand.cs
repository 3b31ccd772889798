using System.Management.Automation;
using VirtualDevices.Block;
using VirtualDevices.Nbd.Client;
using VirtualDevices.PowerShell.Infrastructure;

namespace VirtualDevices.PowerShell.Commands.Nbd;

/// <summary>
/// <para type="synopsis">Disconnects NBD devices: pending requests end, the server is told (NBD_CMD_DISC), the device leaves the session.</para>
/// </summary>
[Cmdlet(VerbsCommunications.Disconnect, "NbdDevice", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Low)]
[OutputType(typeof(void))]
public sealed class DisconnectNbdDeviceCommand : AsyncCmdlet
{
    /// <summary>NBD devices open in the session, or their names.</summary>
    [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true)]
    [DeviceTransformation]
    [ArgumentCompleter(typeof(DeviceNameCompleter))]
    public IBlockDevice[] Device { get; set; } = null!;

    /// <inheritdoc/>
    protected override void ProcessRecord()
    {
        foreach (IBlockDevice device in Device)
        {
            if (device is not NbdBlockDevice)
            {
                WriteError(ErrorRecords.FromException(new ArgumentException($"'{device.Name}' is a {device.Driver} device, not an NBD device; use Close-BlockDevice."), device));
                continue;
            }

            if (!ShouldProcess(device.ToString()!, "Disconnect"))
            {
                continue;
            }

            Run(async cancellationToken =>
            {
                await device.DisconnectAsync(cancellationToken).ConfigureAwait(false);
                Registry.Remove(device);
            }, device);
        }
    }
}
