using System.Management.Automation;
using VirtualDevices.Block;
using VirtualDevices.PowerShell.Infrastructure;

namespace VirtualDevices.PowerShell.Commands.Block;

/// <summary>
/// <para type="synopsis">Gets the allocation map of a block device: which runs hold data and which are holes or read as zeroes.</para>
/// </summary>
[Cmdlet(VerbsCommon.Get, "BlockDeviceAllocation", DefaultParameterSetName = PathSet)]
[OutputType(typeof(BlockAllocationExtent))]
public sealed class GetBlockDeviceAllocationCommand : AsyncCmdlet
{
    private const string PathSet = "Path";
    private const string DeviceSet = "Device";
    private const string UriSet = "Uri";

    /// <summary>The disk image or block-special file to map (opened read-only for this command).</summary>
    [Parameter(Mandatory = true, Position = 0, ParameterSetName = PathSet, ValueFromPipelineByPropertyName = true)]
    [Alias("FullName")]
    [ValidateNotNullOrEmpty]
    public string Path { get; set; } = null!;

    /// <summary>A device open in the session, or its name.</summary>
    [Parameter(Mandatory = true, Position = 0, ParameterSetName = DeviceSet, ValueFromPipeline = true)]
    [DeviceTransformation]
    [ArgumentCompleter(typeof(DeviceNameCompleter))]
    public IBlockDevice Device { get; set; } = null!;

    /// <summary>An NBD URI to connect to for this command alone (its base:allocation context is used).</summary>
    [Parameter(Mandatory = true, ParameterSetName = UriSet)]
    [ValidateNotNullOrEmpty]
    public string Uri { get; set; } = null!;

    /// <summary>The first sector to map (default 0).</summary>
    [Parameter]
    [ValidateRange(0, long.MaxValue)]
    public long Sector { get; set; }

    /// <summary>The number of sectors to map (default: to the end of the device).</summary>
    [Parameter]
    [ValidateRange(0, long.MaxValue)]
    public long Count { get; set; }

    /// <inheritdoc/>
    protected override void ProcessRecord()
    {
        var target = BlockTarget.Bind(this, ParameterSetName == PathSet ? Path : null, ParameterSetName == DeviceSet ? Device : null, ParameterSetName == UriSet ? Uri : null);
        long? sector = MyInvocation.BoundParameters.ContainsKey(nameof(Sector)) ? Sector : null;
        long? count = MyInvocation.BoundParameters.ContainsKey(nameof(Count)) ? Count : null;
        Run(async cancellationToken =>
        {
            await using BlockDeviceLease lease = await target.OpenAsync(Registry, readOnly: true, cancellationToken).ConfigureAwait(false);
            (long first, long n) = BlockRange.Resolve(lease.Device, sector, count, null, null);
            await foreach (BlockAllocationExtent extent in lease.Device.GetAllocationMapAsync(first, n, cancellationToken).ConfigureAwait(false))
            {
                await EmitAsync(extent).ConfigureAwait(false);
            }
        }, target.ErrorTarget);
    }
}
