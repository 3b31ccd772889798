namespace VirtualDevices.PowerShell.Infrastructure;

/// <summary>
/// The device a block cmdlet works on: one the session already has open (left open afterwards), or one opened from
/// -Path for this command alone (disconnected when the command is done).
/// </summary>
internal sealed class BlockDeviceLease : IAsyncDisposable
{
    private readonly bool _owned;

    private BlockDeviceLease(IBlockDevice device, bool owned)
    {
        Device = device;
        _owned = owned;
    }

    public IBlockDevice Device { get; }

    public static BlockDeviceLease Borrow(IBlockDevice device) => new(device, owned: false);

    /// <summary>
    /// Opens the file at <paramref name="fullPath"/>; but when no such file exists and <paramref name="argument"/>
    /// is the name of a block device open in the session, uses that device (so <c>Read-BlockDevice disk0</c> works
    /// as <c>-Device disk0</c> would).
    /// </summary>
    public static BlockDeviceLease Open(DeviceHost host, string argument, string fullPath, bool readOnly, bool noLock = false)
    {
        if (!File.Exists(fullPath) && !Directory.Exists(fullPath) && host.TryGetDevice(argument, out IDevice? device) && device is IBlockDevice block)
        {
            return Borrow(block);
        }

        return OpenFile(fullPath, readOnly, noLock);
    }

    /// <summary>Connects to an NBD export for this command alone (the one-shot -Uri of the block cmdlets).</summary>
    /// <param name="options">The export, from <see cref="ParseUri"/>.</param>
    /// <param name="cancellationToken">Stops connecting.</param>
    public static async ValueTask<BlockDeviceLease> ConnectAsync(Nbd.Client.NbdClientOptions options, CancellationToken cancellationToken)
    {
        options = options with { DeviceName = options.DeviceName ?? "nbd-" + Guid.NewGuid().ToString("N")[..8] };
        return new(await Nbd.Client.NbdClient.ConnectAsync(options, cancellationToken).ConfigureAwait(false), owned: true);
    }

    /// <summary>
    /// Parses an NBD URI, resolving a relative <c>?socket=</c> path against PowerShell's current location (which is
    /// not the process's working directory).
    /// </summary>
    public static Nbd.Client.NbdClientOptions ParseUri(string uri, Func<string, string> resolvePath)
    {
        Nbd.Client.NbdClientOptions options = Nbd.Client.NbdUri.Parse(uri);
        return options.SocketPath is { } socket && !Path.IsPathRooted(socket) ? options with { SocketPath = resolvePath(socket) } : options;
    }

    /// <summary>Opens a file for this command alone, named after the file rather than taking a fileN name.</summary>
    public static BlockDeviceLease OpenFile(string fullPath, bool readOnly, bool noLock = false) =>
        new(FileBlockDevice.Open(fullPath, new FileBlockDeviceOptions { ReadOnly = readOnly, NoLock = noLock, Name = Path.GetFileName(fullPath) }), owned: true);

    /// <summary>The warning for a file whose size is not a whole number of sectors: its last bytes cannot be reached.</summary>
    /// <param name="device">The device.</param>
    public static string TrailingBytesWarning(IBlockDevice device) =>
        $"{device.Location} is not a whole number of {device.Info.SectorSize}-byte sectors: its last {device.Info.TrailingBytes} bytes are beyond the device's last sector and cannot be read or written (TrailingBytes in Get-BlockDeviceInfo).";

    public async ValueTask DisposeAsync()
    {
        if (_owned)
        {
            await Device.DisconnectAsync().ConfigureAwait(false);
        }
    }
}
