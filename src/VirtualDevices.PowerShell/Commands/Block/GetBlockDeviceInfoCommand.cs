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
    private const string DeviceSet = "Device";

    /// <summary>The disk image or block-special file to describe.</summary>
    [Parameter(Mandatory = true, Position = 0, ParameterSetName = PathSet, ValueFromPipelineByPropertyName = true)]
    [Alias("FullName")]
    [ValidateNotNullOrEmpty]
    public string[] Path { get; set; } = null!;

    /// <summary>Devices open in the session, or their names.</summary>
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
                WriteObject(new BlockDeviceDetails(device));
            }

            return;
        }

        foreach (string item in Path)
        {
            string path = GetUnresolvedProviderPathFromPSPath(item);
            Run(async _ =>
            {
                await using BlockDeviceLease lease = BlockDeviceLease.OpenToDescribe(Registry, item, path);
                Emit(new BlockDeviceDetails(lease.Device));
            }, path);
        }
    }
}
