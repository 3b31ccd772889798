using System.Diagnostics;
using System.Management.Automation;
using VirtualDevices.Block;
using VirtualDevices.PowerShell.Infrastructure;

namespace VirtualDevices.PowerShell.Commands.Block;

/// <summary>
/// <para type="synopsis">Writes whole sectors to a block device from bytes, a file, or sector objects.</para>
/// </summary>
[Cmdlet(VerbsCommunications.Write, "BlockDevice", DefaultParameterSetName = PathDataSet, SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.High, HelpUri = "https://github.com/VirtualDevices/VirtualDevices/blob/main/docs/VirtualDevices/Write-BlockDevice.md")]
[OutputType(typeof(BlockTransferResult))]
public sealed class WriteBlockDeviceCommand : AsyncCmdlet
{
    private const string PathDataSet = "PathData";
    private const string PathFileSet = "PathFile";
    private const string DeviceDataSet = "DeviceData";
    private const string DeviceFileSet = "DeviceFile";
    private const string UriDataSet = "UriData";
    private const string UriFileSet = "UriFile";
    private BlockTarget? _target;
    private BlockDeviceLease? _image;

    /// <summary>The disk image or block-special file to write (opened for this command).</summary>
    [Parameter(Mandatory = true, Position = 0, ParameterSetName = PathDataSet)]
    [Parameter(Mandatory = true, Position = 0, ParameterSetName = PathFileSet)]
    [ValidateNotNullOrEmpty]
    public string Path { get; set; } = null!;

    /// <summary>A device open in the session, or its name.</summary>
    [Parameter(Mandatory = true, Position = 0, ParameterSetName = DeviceDataSet)]
    [Parameter(Mandatory = true, Position = 0, ParameterSetName = DeviceFileSet)]
    [DeviceTransformation]
    [ArgumentCompleter(typeof(DeviceNameCompleter))]
    public IBlockDevice Device { get; set; } = null!;

    /// <summary>An NBD URI (nbd://host/export, nbd+unix:///export?socket=...) to connect to for this command alone.</summary>
    [Parameter(Mandatory = true, ParameterSetName = UriDataSet)]
    [Parameter(Mandatory = true, ParameterSetName = UriFileSet)]
    [ValidateNotNullOrEmpty]
    public string Uri { get; set; } = null!;

    /// <summary>The bytes to write, a whole number of sectors; binds the Data property of piped sector objects.</summary>
    [Parameter(Mandatory = true, ParameterSetName = PathDataSet, ValueFromPipelineByPropertyName = true)]
    [Parameter(Mandatory = true, ParameterSetName = DeviceDataSet, ValueFromPipelineByPropertyName = true)]
    [Parameter(Mandatory = true, ParameterSetName = UriDataSet, ValueFromPipelineByPropertyName = true)]
    [ValidateNotNull]
    public byte[] Data { get; set; } = null!;

    /// <summary>A file whose whole content is written, a whole number of sectors.</summary>
    [Parameter(Mandatory = true, ParameterSetName = PathFileSet)]
    [Parameter(Mandatory = true, ParameterSetName = DeviceFileSet)]
    [Parameter(Mandatory = true, ParameterSetName = UriFileSet)]
    [ValidateNotNullOrEmpty]
    public string InFile { get; set; } = null!;

    /// <summary>The first sector to write (default 0); binds the Sector property of piped sector objects.</summary>
    [Parameter(ValueFromPipelineByPropertyName = true)]
    [ValidateRange(0, long.MaxValue)]
    public long Sector { get; set; }

    /// <summary>The first byte to write, a multiple of the sector size (instead of -Sector).</summary>
    [Parameter]
    [ValidateRange(0, long.MaxValue)]
    public long Offset { get; set; }

    /// <summary>Make each write durable before it completes (force unit access).</summary>
    [Parameter]
    public SwitchParameter Fua { get; set; }

    /// <summary>Write without asking for confirmation.</summary>
    [Parameter]
    public SwitchParameter Force { get; set; }

    /// <summary>Write an object describing each transfer.</summary>
    [Parameter]
    public SwitchParameter PassThru { get; set; }

    /// <inheritdoc/>
    protected override void ProcessRecord()
    {
        string? path = Path is null ? null : GetUnresolvedProviderPathFromPSPath(Path);
        string? inFile = InFile is null ? null : GetUnresolvedProviderPathFromPSPath(InFile);
        long? sector = MyInvocation.BoundParameters.ContainsKey(nameof(Sector)) ? Sector : null;
        long? offset = MyInvocation.BoundParameters.ContainsKey(nameof(Offset)) ? Offset : null;
        long bytes;
        try
        {
            bytes = inFile is null ? Data.LongLength : SafeLength(inFile);
        }
        catch (IOException e)
        {
            WriteError(ErrorRecords.FromException(e, inFile));
            return;
        }

        string target = Uri ?? path ?? Device.ToString()!;
        string where = offset is null ? $"sector {sector ?? 0}" : $"byte offset {offset}";
        if (!ShouldChange(target, $"Write {bytes} bytes at {where}{(inFile is null ? string.Empty : " from " + inFile)}", Force))
        {
            return;
        }

        // A -Path image or -Uri export is opened once for all the piped input, and closed in EndProcessing.
        _target ??= BlockTarget.Bind(this, Path, Device, Uri);
        BlockWriteOptions options = Fua ? BlockWriteOptions.ForceUnitAccess : BlockWriteOptions.None;
        Run(async cancellationToken =>
        {
            IBlockDevice device = (_image ??= await _target.OpenAsync(Registry, readOnly: false, cancellationToken).ConfigureAwait(false)).Device;
            if (bytes % device.Info.SectorSize != 0)
            {
                throw new BlockMisalignedException(device.Name, $"input length {bytes}", device.Info.SectorSize);
            }

            // Both styles go to Resolve, which refuses -Sector with -Offset (a piped object's Sector included) rather
            // than let one silently win.
            (long first, _) = BlockRange.Resolve(device, sector, offset is null ? bytes / device.Info.SectorSize : null, offset, offset is null ? null : bytes);
            var clock = Stopwatch.StartNew();
            if (inFile is null)
            {
                await device.WriteAsync(first, Data, options, cancellationToken).ConfigureAwait(false);
            }
            else
            {
                var progress = new ProgressReporter(EmitProgress, 2, $"Writing {inFile} to {device.Name}", bytes);
                await using var file = new FileStream(inFile, FileMode.Open, FileAccess.Read, FileShare.Read, 1, useAsync: false);
                await device.WriteFromAsync(first, file, options, progress, cancellationToken).ConfigureAwait(false);
                progress.Complete();
            }

            if (PassThru)
            {
                Emit(new BlockTransferResult(device.Name, first, bytes, clock.Elapsed));
            }
        }, target);
    }

    /// <inheritdoc/>
    protected override void EndProcessing() => CloseImage();

    /// <inheritdoc/>
    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            CloseImage();
        }

        base.Dispose(disposing);
    }

    private void CloseImage()
    {
        BlockDeviceLease? image = Interlocked.Exchange(ref _image, null);
        image?.DisposeAsync().AsTask().GetAwaiter().GetResult();
    }

    private static long SafeLength(string file)
    {
        var info = new FileInfo(file);
        return info.Exists ? info.Length : throw new FileNotFoundException($"'{file}' does not exist.", file);
    }
}
