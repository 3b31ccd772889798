using System.Management.Automation;
using VirtualDevices.Block;
using VirtualDevices.PowerShell.Infrastructure;

namespace VirtualDevices.PowerShell.Commands.Block;

/// <summary>
/// <para type="synopsis">Gets the geometry and capabilities of a block device.</para>
/// </summary>
[Cmdlet(VerbsCommon.Get, "BlockDeviceInfo", DefaultParameterSetName = PathSet, HelpUri = "https://github.com/VirtualDevices/VirtualDevices/blob/main/docs/VirtualDevices/Get-BlockDeviceInfo.md")]
[OutputType(typeof(BlockDeviceDetails))]
public sealed class GetBlockDeviceInfoCommand : AsyncCmdlet
{
    private const string PathSet = "Path";
    private const string LiteralPathSet = "LiteralPath";
    private const string DeviceSet = "Device";

    /// <summary>
    /// Disk images or block-special files to describe; wildcards are allowed. A name that is no file but a device of
    /// the session means that device.
    /// </summary>
    [Parameter(Mandatory = true, Position = 0, ParameterSetName = PathSet, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
    [SupportsWildcards]
    [ValidateNotNullOrEmpty]
    public string[] Path { get; set; } = null!;

    /// <summary>Disk images or block-special files, taken as written (no wildcards); binds the PSPath of piped files.</summary>
    [Parameter(Mandatory = true, ParameterSetName = LiteralPathSet, ValueFromPipelineByPropertyName = true)]
    [Alias("PSPath", "LP", "FullName")]
    [ValidateNotNullOrEmpty]
    public string[] LiteralPath { get; set; } = null!;

    /// <summary>Devices open in the session, or their names; binds piped devices.</summary>
    [Parameter(Mandatory = true, Position = 0, ParameterSetName = DeviceSet, ValueFromPipeline = true)]
    [DeviceTransformation]
    [ArgumentCompleter(typeof(DeviceNameCompleter))]
    public IBlockDevice[] Device { get; set; } = null!;

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
                await using BlockDeviceLease lease = target.OpenToDescribe(Registry);
                Emit(new BlockDeviceDetails(lease.Device));
            }, target.ErrorTarget);
        }
    }
}
