using VirtualDevices.Block;

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

    public static BlockDeviceLease OpenFile(string fullPath, bool readOnly) =>
        new(FileBlockDevice.Open(fullPath, new FileBlockDeviceOptions { ReadOnly = readOnly }), owned: true);

    public async ValueTask DisposeAsync()
    {
        if (_owned)
        {
            await Device.DisconnectAsync().ConfigureAwait(false);
        }
    }
}
