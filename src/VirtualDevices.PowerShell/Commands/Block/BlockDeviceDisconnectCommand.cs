namespace VirtualDevices.PowerShell.Commands.Block;

/// <summary>
/// What Close-BlockDevice and Disconnect-NbdDevice share: devices of the session (objects or names, from the
/// pipeline too), each disconnected after ShouldProcess and removed from the session. A device that an NBD server of
/// the session exports is pinned: closing it would leave the server running with clients that get ESHUTDOWN on every
/// request, so it is refused (DeviceInUse, ResourceBusy) unless -Force, which stops those servers first. The impact
/// is Medium (closing a RAM disk discards its contents; an NBD client's server may be the only way back to its data),
/// so -Confirm or $ConfirmPreference = 'Medium' asks, and -Force does not.
/// </summary>
public abstract class BlockDeviceDisconnectCommand : AsyncCmdlet
{
    /// <summary>Devices open in the session, or their names.</summary>
    [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true)]
    [DeviceTransformation]
    [ArgumentCompleter(typeof(DeviceNameCompleter))]
    public IBlockDevice[] Device { get; set; } = null!;

    /// <summary>
    /// Also stop the NBD servers of the session that export the device (otherwise such a device is not closed), and
    /// do not ask for confirmation.
    /// </summary>
    [Parameter]
    public SwitchParameter Force { get; set; }

    /// <summary>The verb shown by -WhatIf and -Confirm.</summary>
    protected abstract string Action { get; }

    /// <summary>Why this command will not take <paramref name="device"/>, or null when it will.</summary>
    /// <param name="device">The device.</param>
    protected virtual Exception? Refuse(IBlockDevice device) => null;

    /// <inheritdoc/>
    protected override void ProcessRecord()
    {
        foreach (IBlockDevice device in Device)
        {
            if (UnknownDevice.Report(this, device))
            {
                continue;
            }

            if (Refuse(device) is { } refusal)
            {
                WriteError(ErrorRecords.FromException(refusal, device));
                continue;
            }

            IReadOnlyList<HostedName<IHostedService>> servers = SessionHost.ServicesServing(device);
            string serverNames = string.Join(", ", servers.Select(s => s.Name));
            if (servers.Count > 0 && !Force)
            {
                WriteError(ErrorRecords.FromException(new DeviceException(DeviceErrorIds.Device.InUse, DeviceErrorCategory.ResourceBusy,
                    $"'{device.Name}' is exported by the NBD server {serverNames}: stop it first (Stop-NbdServer {serverNames}), or give -Force to stop it and {Action.ToLowerInvariant()} the device.",
                    device.Name), device));
                continue;
            }

            string action = servers.Count > 0 ? $"{Action}, after stopping the NBD server {serverNames} that exports it" : Action;
            if (!ShouldChange(device.ToString()!, action, Force))
            {
                continue;
            }

            Run(async cancellationToken =>
            {
                // The host stops the servers first (released even when the graceful stop is cut short), then closes the device.
                await SessionHost.CloseDeviceAsync(device, cancellationToken).ConfigureAwait(false);
            }, device);
        }
    }
}
