using System.Management.Automation;
using VirtualDevices.Block;
using VirtualDevices.PowerShell.Infrastructure;

namespace VirtualDevices.PowerShell.Commands.Block;

/// <summary>
/// What Close-BlockDevice and Disconnect-NbdDevice share: devices of the session (objects or names, from the
/// pipeline too), each disconnected after ShouldProcess and removed from the session.
/// </summary>
public abstract class BlockDeviceDisconnectCommand : AsyncCmdlet
{
    /// <summary>Devices open in the session, or their names.</summary>
    [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true)]
    [DeviceTransformation]
    [ArgumentCompleter(typeof(DeviceNameCompleter))]
    public IBlockDevice[] Device { get; set; } = null!;

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
            if (Refuse(device) is { } refusal)
            {
                WriteError(ErrorRecords.FromException(refusal, device));
                continue;
            }

            if (!ShouldProcess(device.ToString()!, Action))
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
