using VirtualDevices.Network;
using VirtualDevices.Network.Tap;

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
public sealed class StopVmnetInterfaceCommand : AsyncCmdlet
{
    /// <summary>The interfaces' devices, or their names (also from the Device property of piped objects, such as statistics).</summary>
    [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
    [DeviceTransformation]
    [ArgumentCompleter(typeof(DeviceNameCompleter))]
    public IDevice[] Device { get; set; } = null!;

    /// <summary>Do not ask for confirmation.</summary>
    [Parameter]
    public SwitchParameter Force { get; set; }

    /// <inheritdoc/>
    protected override void ProcessRecord()
    {
        foreach (IDevice device in Device)
        {
            if (UnknownDevice.Report(this, device))
            {
                continue;
            }

            if (device is not NetworkDevice { Driver: TapDevice.DriverName or VirtualDevices.Network.Vmnet.VmnetDevice.DriverName })
            {
                WriteError(ErrorRecords.FromException(new ArgumentException(
                    $"'{device.Name}' is a {device.Driver} device, not a virtual interface started by Start-VmnetInterface."), device));
                continue;
            }

            if (!ShouldChange(device.ToString()!, "Stop the interface", Force))
            {
                continue;
            }

            DeviceHost host = SessionHost; // on the pipeline thread, where the session's runspace is known
            Run(async cancellationToken => await host.CloseDeviceAsync(device, cancellationToken).ConfigureAwait(false), device);
        }
    }
}
