namespace VirtualDevices.PowerShell.Commands.Block;

/// <summary>
/// <para type="synopsis">Gets the geometry and capabilities of a block device.</para>
/// </summary>
[Cmdlet(VerbsCommon.Get, "BlockDeviceInfo", DefaultParameterSetName = PathSet, HelpUri = "https://github.com/VirtualDevices/VirtualDevices/blob/main/docs/VirtualDevices/Get-BlockDeviceInfo.md")]
[OutputType(typeof(BlockDeviceDetails))]
public sealed class GetBlockDeviceInfoCommand : BlockTargetCommand
{
    /// <inheritdoc/>
    protected override void ProcessRecord()
    {
        if (ParameterSetName == DeviceSet)
        {
            foreach (IBlockDevice device in Device)
            {
                if (!UnknownDevice.Report(this, device))
                {
                    WriteObject(new BlockDeviceDetails(device));
                }
            }

            return;
        }

        foreach (BlockTarget target in BlockTargets.Bind(this, ParameterSetName, Path, LiteralPath, null, null))
        {
            Run(async _ =>
            {
                await using BlockDeviceLease lease = target.OpenToDescribe(SessionHost);
                Emit(new BlockDeviceDetails(lease.Device));
            }, target.ErrorTarget);
        }
    }
}
