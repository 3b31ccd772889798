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
public sealed class CloseNetworkDeviceCommand : AsyncCmdlet
{
    /// <summary>The devices, or their names (also from the Device property of piped objects, such as statistics).</summary>
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

            if (device is not INetworkDevice)
            {
                WriteError(ErrorRecords.FromException(new ArgumentException(
                    $"'{device.Name}' is a {device.Driver} device, not a network device (close it with its own command)."), device));
                continue;
            }

            if (!ShouldChange(device.ToString()!, "Close the network device", Force))
            {
                continue;
            }

            DeviceHost host = SessionHost; // on the pipeline thread, where the session's runspace is known
            Run(async cancellationToken => await host.CloseDeviceAsync(device, cancellationToken).ConfigureAwait(false), device);
        }
    }
}
