using VirtualDevices.Network;
using VirtualDevices.Network.Switch;

namespace VirtualDevices.PowerShell.Commands.Network;

/// <summary>
/// <para type="synopsis">Takes network devices off the switch they are ports of; the devices stay open, and a switch left with no port stops.</para>
/// </summary>
[Cmdlet(VerbsCommunications.Disconnect, "NetworkDevice", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Low, HelpUri = "https://github.com/VirtualDevices/VirtualDevices/blob/main/docs/VirtualDevices/Disconnect-NetworkDevice.md")]
[OutputType(typeof(void))]
public sealed class DisconnectNetworkDeviceCommand : AsyncCmdlet
{
    /// <summary>Network devices that are switch ports, or their names.</summary>
    [Parameter(Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true, ValueFromPipeline = true)]
    [DeviceTransformation]
    [ArgumentCompleter(typeof(DeviceNameCompleter))]
    public IDevice[] Device { get; set; } = null!;

    /// <inheritdoc/>
    protected override void ProcessRecord()
    {
        foreach (IDevice device in Device)
        {
            if (UnknownDevice.Report(this, device))
            {
                continue;
            }

            if (device is not INetworkDevice network || !NetworkSwitch.TryGetPort(network, out SwitchPort? port))
            {
                WriteError(ErrorRecords.FromException(new DeviceException(DeviceErrorIds.Network.SwitchNotFound, DeviceErrorCategory.ObjectNotFound,
                    $"'{device.Name}' is not a port of a switch.", device.Name), device));
                continue;
            }

            if (!ShouldProcess(port.ToString(), "Disconnect from the switch"))
            {
                continue;
            }

            Run(async cancellationToken =>
            {
                NetworkSwitch owner = port.Switch;
                await owner.DisconnectAsync(port).WaitAsync(cancellationToken).ConfigureAwait(false);
                if (owner.Ports.Count == 0)
                {
                    await SessionHost.StopServiceAsync(owner, cancellationToken).ConfigureAwait(false);
                }
            }, device);
        }
    }
}
