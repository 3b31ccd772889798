using System.Management.Automation;
using VirtualDevices.Block;
using VirtualDevices.Devices;
using VirtualDevices.Nbd.Client;

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

    private BlockTarget(object errorTarget, string? argument = null, string? fullPath = null, IBlockDevice? device = null, NbdClientOptions? nbd = null, Exception? error = null)
    {
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

    /// <summary>Binds whichever of the three the parameter set gave.</summary>
    public static BlockTarget Bind(PSCmdlet cmdlet, string? path, IBlockDevice? device, string? uri)
    {
        if (uri is not null)
        {
            try
            {
                return new BlockTarget(uri, nbd: BlockDeviceLease.ParseUri(uri, cmdlet.GetUnresolvedProviderPathFromPSPath));
            }
            catch (Exception e) when (e is DeviceException or FormatException or ArgumentException)
            {
                return new BlockTarget(uri, error: e);
            }
        }

        if (path is not null)
        {
            string fullPath = cmdlet.GetUnresolvedProviderPathFromPSPath(path);
            return new BlockTarget(fullPath, argument: path, fullPath: fullPath);
        }

        return new BlockTarget(device ?? throw new ArgumentNullException(nameof(device)), device: device);
    }

    /// <summary>Opens the target: borrows a session device, opens a file, or connects to an export.</summary>
    public async ValueTask<BlockDeviceLease> OpenAsync(DeviceRegistry registry, bool readOnly, CancellationToken cancellationToken)
    {
        if (_error is not null)
        {
            throw _error;
        }

        if (_nbd is not null)
        {
            return await BlockDeviceLease.ConnectAsync(_nbd, cancellationToken).ConfigureAwait(false);
        }

        return _fullPath is not null ? BlockDeviceLease.Open(registry, _argument!, _fullPath, readOnly) : BlockDeviceLease.Borrow(_device!);
    }
}
