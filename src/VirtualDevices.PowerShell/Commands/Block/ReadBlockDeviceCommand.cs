using System.Diagnostics;
using System.Management.Automation;
using VirtualDevices.Block;
using VirtualDevices.PowerShell.Infrastructure;

namespace VirtualDevices.PowerShell.Commands.Block;

/// <summary>
/// <para type="synopsis">Reads sectors from a block device, as objects or into a file.</para>
/// </summary>
[Cmdlet(VerbsCommunications.Read, "BlockDevice", DefaultParameterSetName = PathSet, HelpUri = "https://github.com/VirtualDevices/VirtualDevices/blob/main/docs/VirtualDevices/Read-BlockDevice.md")]
[OutputType(typeof(BlockData), typeof(BlockTransferResult))]
public sealed class ReadBlockDeviceCommand : BlockRangeCommand
{
    /// <summary>The first byte to read, a multiple of the sector size (instead of -Sector).</summary>
    [Parameter]
    [ValidateRange(0, long.MaxValue)]
    public long Offset { get; set; }

    /// <summary>The number of bytes to read, a multiple of the sector size (instead of -Count).</summary>
    [Parameter]
    [ValidateRange(0, long.MaxValue)]
    public long Length { get; set; }

    /// <summary>Sectors in each output object (default 1).</summary>
    [Parameter]
    [ValidateRange(1, 65536)]
    public int SectorsPerObject { get; set; } = 1;

    /// <summary>Write the raw bytes to this file instead of writing objects.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? OutFile { get; set; }

    /// <summary>With -OutFile, fail rather than replace an existing file.</summary>
    [Parameter]
    public SwitchParameter NoClobber { get; set; }

    /// <summary>With -OutFile, write an object describing the transfer.</summary>
    [Parameter]
    public SwitchParameter PassThru { get; set; }

    /// <inheritdoc/>
    protected override void ProcessRecord()
    {
        BlockTarget target = BindTarget();
        string? outFile = OutFile is null ? null : GetUnresolvedProviderPathFromPSPath(OutFile);
        long? sector = Bound(nameof(Sector), Sector), count = Bound(nameof(Count), Count);
        long? offset = Bound(nameof(Offset), Offset), length = Bound(nameof(Length), Length);
        Run(async cancellationToken =>
        {
            await using BlockDeviceLease lease = await target.OpenAsync(Registry, readOnly: true, cancellationToken).ConfigureAwait(false);
            IBlockDevice device = lease.Device;
            (long first, long n) = BlockRange.Resolve(device, sector, count, offset, length);
            if (outFile is null)
            {
                var reading = new ProgressReporter(EmitProgress, 1, $"Reading {device.Name}", n * device.Info.SectorSize);
                long emitted = 0;
                await foreach (BlockData data in device.ReadSectorsAsync(first, n, SectorsPerObject, cancellationToken).ConfigureAwait(false))
                {
                    await EmitAsync(data).ConfigureAwait(false);
                    reading.Report(emitted += data.Length);
                }

                reading.Complete();
                return;
            }

            var progress = new ProgressReporter(EmitProgress, 1, $"Reading {device.Name} to {outFile}", n * device.Info.SectorSize);
            var clock = Stopwatch.StartNew();
            long copied;
            if (NoClobber && File.Exists(outFile))
            {
                throw new DeviceException("OutFileExists", DeviceErrorCategory.ResourceExists, $"'{outFile}' already exists and -NoClobber was given.", device.Name);
            }

            var file = new FileStream(outFile, NoClobber ? FileMode.CreateNew : FileMode.Create, FileAccess.Write, FileShare.Read, 1, useAsync: false);
            try
            {
                await using (file.ConfigureAwait(false))
                {
                    copied = await device.CopyToAsync(first, n, file, progress, cancellationToken).ConfigureAwait(false);
                }
            }
            catch
            {
                // A partial copy is not the range that was asked for: do not leave it behind looking complete.
                try
                {
                    File.Delete(outFile);
                }
                catch (IOException)
                {
                    // The copy's own error is the one to report.
                }

                throw;
            }

            progress.Complete();
            if (PassThru)
            {
                Emit(new BlockTransferResult(device.Name, first, copied, clock.Elapsed));
            }
        }, target.ErrorTarget);
    }
}
