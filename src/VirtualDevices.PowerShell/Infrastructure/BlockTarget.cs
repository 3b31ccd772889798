namespace VirtualDevices.PowerShell.Infrastructure;

/// <summary>
/// What a block cmdlet is pointed at — a file (-Path), a device of the session (-Device) or an NBD export (-Uri) —
/// bound on the pipeline thread (where PowerShell paths resolve) and opened later in the command's work.
/// </summary>
internal sealed class BlockTarget
{
    private readonly string? _argument;
    private readonly string? _fullPath;
    private readonly IBlockDevice? _device;
    private readonly NbdClientOptions? _nbd;
    private readonly Exception? _error;
    private readonly bool _literal;

    private BlockTarget(object errorTarget, string? argument = null, string? fullPath = null, IBlockDevice? device = null, NbdClientOptions? nbd = null, Exception? error = null, bool literal = false)
    {
        _literal = literal;
        ErrorTarget = errorTarget;
        _argument = argument;
        _fullPath = fullPath;
        _device = device;
        _nbd = nbd;
        _error = error;
    }

    /// <summary>What errors are reported against: the path, the device or the URI.</summary>
    public object ErrorTarget { get; }

    /// <summary>True when the target is a device the session owns (not opened by the command).</summary>
    public bool IsSessionDevice => _device is not null;

    /// <summary>A file already resolved to its full path (from -LiteralPath, or a wildcard's match): never a device name.</summary>
    /// <param name="fullPath">The file's full path.</param>
    public static BlockTarget ForFile(string fullPath) => new(fullPath, argument: fullPath, fullPath: fullPath, literal: true);

    /// <summary>Binds whichever of the three the parameter set gave.</summary>
    public static BlockTarget Bind(PSCmdlet cmdlet, string? path, IBlockDevice? device, string? uri)
    {
        if (uri is not null)
        {
            try
            {
                return new BlockTarget(uri, nbd: BlockDeviceLease.ParseUri(uri, cmdlet.GetUnresolvedProviderPathFromPSPath));
            }
            catch (Exception e) when (ErrorRecords.IsReportable(e))
            {
                return new BlockTarget(uri, error: e);
            }
        }

        if (path is not null)
        {
            string fullPath = cmdlet.GetUnresolvedProviderPathFromPSPath(path);
            return new BlockTarget(fullPath, argument: path, fullPath: fullPath);
        }

        // An unknown name is reported against the name, as the user typed it.
        return new BlockTarget(device is UnknownDevice unknown ? unknown.Name : device ?? throw new ArgumentNullException(nameof(device)), device: device);
    }

    /// <summary>Opens the target: borrows a session device, opens a file, or connects to an export.</summary>
    public async ValueTask<BlockDeviceLease> OpenAsync(DeviceHost host, bool readOnly, CancellationToken cancellationToken, bool noLock = false)
    {
        if (_error is not null)
        {
            throw _error;
        }

        if (_nbd is not null)
        {
            return await BlockDeviceLease.ConnectAsync(_nbd, cancellationToken).ConfigureAwait(false);
        }

        if (_fullPath is not null)
        {
            return _literal ? BlockDeviceLease.OpenFile(_fullPath, readOnly, noLock) : BlockDeviceLease.Open(host, _argument!, _fullPath, readOnly, noLock);
        }

        // A name that matched no device: its DeviceNotFound error, as the command reports it.
        return _device is UnknownDevice unknown ? throw unknown.Error : BlockDeviceLease.Borrow(_device!);
    }

    /// <summary>
    /// Opens a file target read-write if allowed, else read-only, so that its description says whether it is
    /// writable; borrows a session device.
    /// </summary>
    /// <param name="host">The session's host.</param>
    public BlockDeviceLease OpenToDescribe(DeviceHost host)
    {
        if (_fullPath is null)
        {
            return _device is UnknownDevice unknown ? throw unknown.Error : BlockDeviceLease.Borrow(_device!);
        }

        try
        {
            return Open(host, readOnly: false);
        }
        catch (DeviceException e) when (e.Category == DeviceErrorCategory.PermissionDenied || e.ErrorId == DeviceErrorIds.Device.Locked)
        {
            // Not writable by this session now (permissions, or another writer such as qemu-nbd holds the image lock).
            return Open(host, readOnly: true);
        }
    }

    private BlockDeviceLease Open(DeviceHost host, bool readOnly) =>
        _literal ? BlockDeviceLease.OpenFile(_fullPath!, readOnly) : BlockDeviceLease.Open(host, _argument!, _fullPath!, readOnly);
}
