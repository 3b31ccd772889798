namespace VirtualDevices.PowerShell.Commands.Block;

/// <summary>
/// <para type="synopsis">Gets the allocation map of a block device: which runs hold data and which are holes or read as zeroes.</para>
/// </summary>
[Cmdlet(VerbsCommon.Get, "BlockDeviceAllocation", DefaultParameterSetName = PathSet, HelpUri = "https://github.com/VirtualDevices/VirtualDevices/blob/main/docs/VirtualDevices/Get-BlockDeviceAllocation.md")]
[OutputType(typeof(BlockAllocationExtent))]
public sealed class GetBlockDeviceAllocationCommand : BlockRangeCommand
{
    /// <inheritdoc/>
    protected override void ProcessRecord()
    {
        long? sector = Bound(nameof(Sector), Sector), count = Bound(nameof(Count), Count);
        foreach (BlockTarget target in BindTargets())
        {
            Run(async cancellationToken =>
        {
                await using BlockDeviceLease lease = await target.OpenAsync(SessionHost, readOnly: true, cancellationToken).ConfigureAwait(false);
                (long first, long n) = BlockRange.Resolve(lease.Device, sector, count, null, null);
                await foreach (BlockAllocationExtent extent in lease.Device.GetAllocationMapAsync(first, n, cancellationToken).ConfigureAwait(false))
                {
                    await EmitAsync(extent).ConfigureAwait(false);
                }
            }, target.ErrorTarget);
        }
    }
}
