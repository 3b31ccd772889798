using System.Management.Automation;
using VirtualDevices.Block;
using VirtualDevices.PowerShell.Infrastructure;

namespace VirtualDevices.PowerShell.Commands.Block;

/// <summary>
/// <para type="synopsis">Closes block devices open in the session (any kind: file, memory, NBD).</para>
/// </summary>
[Cmdlet(VerbsCommon.Close, "BlockDevice", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Low)]
[OutputType(typeof(void))]
public sealed class CloseBlockDeviceCommand : AsyncCmdlet
{
    /// <summary>Devices open in the session, or their names.</summary>
    [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true)]
    [DeviceTransformation]
    [ArgumentCompleter(typeof(DeviceNameCompleter))]
    public IBlockDevice[] Device { get; set; } = null!;

    /// <inheritdoc/>
    protected override void ProcessRecord()
    {
        foreach (IBlockDevice device in Device)
        {
            if (!ShouldProcess(device.ToString()!, "Close"))
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
