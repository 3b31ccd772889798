using VirtualDevices.Network;

namespace VirtualDevices.PowerShell.Commands.Network;

/// <summary>
/// What Close-NetworkDevice and Stop-VmnetInterface share: network devices (or their names, or the Device property of
/// piped statistics) taken from the pipeline, each confirmed (-Force does not ask) and closed through the session's
/// host (it disconnects, leaves any switch, and leaves the session); a device the command does not take is refused
/// with InvalidArgument, an unknown name is DeviceNotFound.
/// </summary>
public abstract class NetworkDeviceCloseCommand : AsyncCmdlet
{
    /// <summary>The devices, or their names (also from the Device property of piped objects, such as statistics).</summary>
    [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
    [DeviceTransformation]
    [ArgumentCompleter(typeof(DeviceNameCompleter))]
    public IDevice[] Device { get; set; } = null!;

    /// <summary>Do not ask for confirmation.</summary>
    [Parameter]
    public SwitchParameter Force { get; set; }

    /// <summary>What the command does to a device, for -WhatIf and -Confirm ("Close the network device").</summary>
    protected abstract string Action { get; }

    /// <summary>Why the command does not take <paramref name="device"/>, or null when it does.</summary>
    /// <param name="device">A device of the session.</param>
    protected abstract string? Refuses(IDevice device);

    /// <inheritdoc/>
    protected override void ProcessRecord()
    {
        foreach (IDevice device in Device)
        {
            if (UnknownDevice.Report(this, device))
            {
                continue;
            }

            if (Refuses(device) is { } why)
            {
                WriteError(ErrorRecords.FromException(new ArgumentException(why), device));
                continue;
            }

            if (ShouldChange(device.ToString()!, Action, Force))
            {
                Run(async cancellationToken => await SessionHost.CloseDeviceAsync(device, cancellationToken).ConfigureAwait(false), device);
            }
        }
    }
}
