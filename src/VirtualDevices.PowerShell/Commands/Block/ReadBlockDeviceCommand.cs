using System.Diagnostics;

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

    /// <summary>With -OutFile, fail rather than write to a file that exists (a regular file is otherwise replaced, as Out-File does).</summary>
    [Parameter]
    public SwitchParameter NoClobber { get; set; }

    /// <summary>With -OutFile, write an object describing the transfer.</summary>
    [Parameter]
    public SwitchParameter PassThru { get; set; }

    /// <inheritdoc/>
    protected override void ProcessRecord()
    {
        string? outFile = OutFile is null ? null : GetUnresolvedProviderPathFromPSPath(OutFile);
        long? sector = Bound(nameof(Sector), Sector), count = Bound(nameof(Count), Count);
        long? offset = Bound(nameof(Offset), Offset), length = Bound(nameof(Length), Length);
        BlockTarget[] targets = BindTargets().ToArray();
        if (outFile is not null && targets.Length > 1)
        {
            WriteError(ErrorRecords.FromException(new ArgumentException($"-Path names {targets.Length} files; -OutFile takes the sectors of one."), OutFile));
            return;
        }

        foreach (BlockTarget target in targets)
        {
            Run(async cancellationToken =>
            {
                await using BlockDeviceLease lease = await target.OpenAsync(SessionHost, readOnly: true, cancellationToken).ConfigureAwait(false);
                IBlockDevice device = lease.Device;
                if (!target.IsSessionDevice && device.Info.TrailingBytes > 0)
                {
                    EmitWarning(BlockDeviceLease.TrailingBytesWarning(device));
                }

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
                (FileStream file, bool created) = OpenOutFile(outFile, device.Name);
                try
                {
                    await using (file.ConfigureAwait(false))
                    {
                        copied = await device.CopyToAsync(first, n, file, progress, cancellationToken).ConfigureAwait(false);
                    }
                }
                catch when (created)
                {
                    // A partial copy is not the range that was asked for: do not leave behind, looking complete, a file
                    // this command created. Anything that was there before (a device node, a fifo, a user's file) stays.
                    TryDelete(outFile);
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

    /// <summary>
    /// Opens -OutFile: creates it when it does not exist (and says so, so only then may a failed copy remove it);
    /// otherwise, unless -NoClobber, opens what is there for writing, truncating a regular file as Out-File does.
    /// </summary>
    private (FileStream File, bool Created) OpenOutFile(string outFile, string deviceName)
    {
        try
        {
            return (new FileStream(outFile, FileMode.CreateNew, FileAccess.Write, FileShare.Read, 1, useAsync: false), true);
        }
        catch (IOException) when (System.IO.Path.Exists(outFile))
        {
            if (NoClobber)
            {
                throw new DeviceException(DeviceErrorIds.Device.OutFileExists, DeviceErrorCategory.ResourceExists, $"'{outFile}' already exists and -NoClobber was given.", deviceName);
            }
        }

        // O_CREAT|O_TRUNC: a regular file is replaced as Out-File replaces it; a device node or a fifo ignores O_TRUNC.
        return (new FileStream(outFile, FileMode.Create, FileAccess.Write, FileShare.Read, 1, useAsync: false), false);
    }

    private static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // The copy's own error is the one to report.
        }
    }
}
