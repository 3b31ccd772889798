using VirtualDevices.Block;
using VirtualDevices.Nbd.Server;

namespace VirtualDevices.PowerShell.Infrastructure;

/// <summary>
/// An NBD server started by Start-NbdServer, with the devices it opened itself from -Path: stopping the server closes
/// those, and leaves the session's own devices open.
/// </summary>
internal sealed class NbdServerHost(NbdServer server, IReadOnlyList<IBlockDevice> ownedDevices) : IAsyncDisposable
{
    public NbdServer Server { get; } = server;

    public async ValueTask DisposeAsync()
    {
        try
        {
            await Server.DisposeAsync().ConfigureAwait(false);
        }
        finally
        {
            foreach (IBlockDevice device in ownedDevices)
            {
                await device.DisconnectAsync().ConfigureAwait(false);
            }
        }
    }
}
