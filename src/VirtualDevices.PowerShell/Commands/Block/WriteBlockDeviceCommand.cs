using System.Diagnostics;

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
    private const string LiteralPathDataSet = "LiteralPathData";
    private const string LiteralPathFileSet = "LiteralPathFile";
    private const string DeviceDataSet = "DeviceData";
    private const string DeviceFileSet = "DeviceFile";
    private const string UriDataSet = "UriData";
    private const string UriFileSet = "UriFile";
    private BlockTarget? _target;
    private BlockDeviceLease? _image;
    private HashSet<string> _commandLine = [];

    /// <summary>The disk image or block-special file to write (opened for this command); a wildcard must match one file.</summary>
    [Parameter(Mandatory = true, Position = 0, ParameterSetName = PathDataSet)]
    [Parameter(Mandatory = true, Position = 0, ParameterSetName = PathFileSet)]
    [SupportsWildcards]
    [ValidateNotNullOrEmpty]
    public string Path { get; set; } = null!;

    /// <summary>The disk image or block-special file to write, taken as written (no wildcards).</summary>
    [Parameter(Mandatory = true, ParameterSetName = LiteralPathDataSet)]
    [Parameter(Mandatory = true, ParameterSetName = LiteralPathFileSet)]
    [Alias("PSPath", "LP")]
    [ValidateNotNullOrEmpty]
    public string LiteralPath { get; set; } = null!;

    /// <summary>A device open in the session, or its name.</summary>
    [Parameter(Mandatory = true, Position = 0, ParameterSetName = DeviceDataSet)]
    [Parameter(Mandatory = true, Position = 0, ParameterSetName = DeviceFileSet)]
    [DeviceTransformation(Scalar = true)]
    [ArgumentCompleter(typeof(DeviceNameCompleter))]
    public IBlockDevice Device { get; set; } = null!;

    /// <summary>An NBD URI (nbd://host/export, nbd+unix:///export?socket=...) to connect to for this command alone.</summary>
    [Parameter(Mandatory = true, ParameterSetName = UriDataSet)]
    [Parameter(Mandatory = true, ParameterSetName = UriFileSet)]
    [ValidateNotNullOrEmpty]
    public string Uri { get; set; } = null!;

    /// <summary>The bytes to write, a whole number of sectors; binds the Data property of piped sector objects.</summary>
    [Parameter(Mandatory = true, ParameterSetName = PathDataSet, ValueFromPipelineByPropertyName = true)]
    [Parameter(Mandatory = true, ParameterSetName = LiteralPathDataSet, ValueFromPipelineByPropertyName = true)]
    [Parameter(Mandatory = true, ParameterSetName = DeviceDataSet, ValueFromPipelineByPropertyName = true)]
    [Parameter(Mandatory = true, ParameterSetName = UriDataSet, ValueFromPipelineByPropertyName = true)]
    [ValidateNotNull]
    public byte[] Data { get; set; } = null!;

    /// <summary>A file whose whole content is written, a whole number of sectors.</summary>
    [Parameter(Mandatory = true, ParameterSetName = PathFileSet)]
    [Parameter(Mandatory = true, ParameterSetName = LiteralPathFileSet)]
    [Parameter(Mandatory = true, ParameterSetName = DeviceFileSet)]
    [Parameter(Mandatory = true, ParameterSetName = UriFileSet)]
    [ValidateNotNullOrEmpty]
    public string InFile { get; set; } = null!;

    /// <summary>The first sector to write (default 0); binds the Sector property of piped sector objects.</summary>
    [Parameter(ValueFromPipelineByPropertyName = true)]
    [ValidateRange(0, long.MaxValue)]
    public long Sector { get; set; }

    /// <summary>
    /// The first byte to write, a multiple of the sector size (instead of -Sector); binds the Offset property of piped
    /// sector objects, which then wins over their Sector, so a copy lands at the same byte offset whatever the two
    /// devices' sector sizes.
    /// </summary>
    [Parameter(ValueFromPipelineByPropertyName = true)]
    [ValidateRange(0, long.MaxValue)]
    public long Offset { get; set; }

    /// <summary>Make each write durable before it completes (force unit access).</summary>
    [Parameter]
    public SwitchParameter Fua { get; set; }

    /// <summary>
    /// With -Path or -LiteralPath, open the image without the advisory image lock qemu also takes, so even while
    /// another writer (qemu-nbd, QEMU, a device of this session) has it open; for recovery only.
    /// </summary>
    [Parameter]
    public SwitchParameter NoLock { get; set; }

    /// <summary>Write without asking for confirmation.</summary>
    [Parameter]
    public SwitchParameter Force { get; set; }

    /// <summary>Write an object describing each transfer.</summary>
    [Parameter]
    public SwitchParameter PassThru { get; set; }

    /// <inheritdoc/>
    protected override void BeginProcessing()
    {
        // What the command line gave, to tell it apart from what each piped object binds.
        _commandLine = new HashSet<string>(MyInvocation.BoundParameters.Keys, StringComparer.OrdinalIgnoreCase);
    }

    /// <inheritdoc/>
    protected override void ProcessRecord()
    {
        if (Device is not null && UnknownDevice.Report(this, Device))
        {
            return;
        }

        string? inFile = InFile is null ? null : GetUnresolvedProviderPathFromPSPath(InFile);
        long? sector = MyInvocation.BoundParameters.ContainsKey(nameof(Sector)) ? Sector : null;
        long? offset = MyInvocation.BoundParameters.ContainsKey(nameof(Offset)) ? Offset : null;
        if (offset is not null && sector is not null && !_commandLine.Contains(nameof(Sector)) && !_commandLine.Contains(nameof(Offset)))
        {
            // A piped sector object (BlockData) carries both: its byte offset is the one that means the same on a
            // device of another sector size (sector 8 of 512 bytes is byte 4096, sector 1 of a 4096-byte device).
            sector = null;
        }

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

        if (_target is null)
        {
            try
            {
                _target = BindWriteTarget();
            }
            catch (Exception e) when (e is ArgumentException or ItemNotFoundException)
            {
                ThrowTerminatingError(ErrorRecords.FromException(e is ItemNotFoundException ? new FileNotFoundException(e.Message, e) : e, Path));
            }
        }

        string target = _target!.ErrorTarget.ToString()!;
        string where = offset is null ? $"sector {sector ?? 0}" : $"byte offset {offset}";
        if (!ShouldChange(target, $"Write {bytes} bytes at {where}{(inFile is null ? string.Empty : " from " + inFile)}", Force))
        {
            return;
        }

        // A -Path image or -Uri export is opened once for all the piped input, and closed in EndProcessing.
        BlockWriteOptions options = Fua ? BlockWriteOptions.ForceUnitAccess : BlockWriteOptions.None;
        Run(async cancellationToken =>
        {
            IBlockDevice device = (_image ??= await _target!.OpenAsync(SessionHost, readOnly: false, cancellationToken, NoLock).ConfigureAwait(false)).Device;
            if (BlockRange.CheckAligned(device.Name, "input length", bytes, device.Info.SectorSize) is { } misaligned)
            {
                throw misaligned;
            }

            // Both styles go to Resolve, which refuses -Sector with -Offset (one from the command line, the other from a
            // piped object) rather than let one silently win.
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

    /// <summary>The one device this command writes: a -Path wildcard must match exactly one file.</summary>
    private BlockTarget BindWriteTarget()
    {
        if (ParameterSetName is LiteralPathDataSet or LiteralPathFileSet)
        {
            return BlockTarget.ForFile(GetUnresolvedProviderPathFromPSPath(LiteralPath));
        }

        if (Path is not null && WildcardPattern.ContainsWildcardCharacters(Path))
        {
            string[] matches = [.. GetResolvedProviderPathFromPSPath(Path, out ProviderInfo _)];
            return matches.Length == 1
                ? BlockTarget.ForFile(matches[0])
                : throw new ArgumentException($"'{Path}' matches {matches.Length} files; Write-BlockDevice writes one.");
        }

        return BlockTarget.Bind(this, Path, Device, Uri);
    }

    private static long SafeLength(string file)
    {
        var info = new FileInfo(file);
        return info.Exists ? info.Length : throw new FileNotFoundException($"'{file}' does not exist.", file);
    }
}
