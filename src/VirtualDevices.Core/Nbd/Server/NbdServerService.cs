using VirtualDevices.Block;
using VirtualDevices.Devices;
using VirtualDevices.Hosting;

namespace VirtualDevices.Nbd.Server;

/// <summary>
/// An NBD server run by a <see cref="DeviceHost"/>, with the images it opened itself: stopping it closes those and
/// leaves the host's own devices open.
/// </summary>
public sealed class NbdServerService : IHostedService
{
    private readonly IReadOnlyList<IBlockDevice> _ownedDevices;

    private NbdServerService(NbdServer server, IReadOnlyList<IBlockDevice> ownedDevices)
    {
        Server = server;
        _ownedDevices = ownedDevices;
    }

    /// <summary>The server.</summary>
    public NbdServer Server { get; }

    /// <inheritdoc/>
    public IReadOnlyCollection<IDevice> ServedDevices => Server.Exports.Select(e => (IDevice)e.Device).Distinct().ToArray();

    /// <summary>Opens the setup's images, builds its exports and starts listening; on failure releases what it opened.</summary>
    /// <param name="setup">What to serve and how.</param>
    /// <param name="cancellationToken">Abandons starting.</param>
    /// <exception cref="ArgumentException">The setup contradicts itself.</exception>
    public static async Task<NbdServerService> StartAsync(NbdServerSetup setup, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(setup);
        setup.Validate();
        var owned = new List<IBlockDevice>();
        NbdServer? server = null;
        try
        {
            foreach (string path in setup.ImagePaths)
            {
                owned.Add(FileBlockDevice.Open(path, new FileBlockDeviceOptions { ReadOnly = setup.ReadOnly, Name = Path.GetFileName(path) }));
            }

            server = new NbdServer(setup.CreateOptions(), [.. setup.CreateExports([.. setup.Devices, .. owned])]);
            await server.StartAsync(cancellationToken).ConfigureAwait(false);
            return new NbdServerService(server, owned);
        }
        catch
        {
            if (server is not null)
            {
                await server.DisposeAsync().ConfigureAwait(false);
            }

            foreach (IBlockDevice device in owned)
            {
                await device.DisconnectAsync(CancellationToken.None).ConfigureAwait(false);
            }

            throw;
        }
    }

    /// <inheritdoc/>
    public Task StopAsync(CancellationToken cancellationToken = default) => Server.StopAsync(cancellationToken);

    /// <inheritdoc/>
    public async ValueTask DisposeAsync()
    {
        try
        {
            await Server.DisposeAsync().ConfigureAwait(false);
        }
        finally
        {
            foreach (IBlockDevice device in _ownedDevices)
            {
                await device.DisconnectAsync().ConfigureAwait(false);
            }
        }
    }
}
