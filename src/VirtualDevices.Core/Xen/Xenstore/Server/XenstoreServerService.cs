using VirtualDevices.Devices;
using VirtualDevices.Hosting;

using VirtualDevices.Xen.Xenstore.Client;

namespace VirtualDevices.Xen.Xenstore.Server;

/// <summary>
/// An embedded xenstore server run by a <see cref="DeviceHost"/>. Stopping it closes the session's connections to
/// it first (they would otherwise try to reconnect for ever), then the server, whose contents are lost.
/// </summary>
public sealed class XenstoreServerService : IHostedService
{
    private readonly XenstoreConnections? _connections;
    private readonly object _gate = new();
    private Task? _stopping;

    /// <summary>Hosts a running server.</summary>
    /// <param name="server">The server.</param>
    /// <param name="connections">The session's connections, some of which may go to it.</param>
    public XenstoreServerService(XenstoreServer server, XenstoreConnections? connections = null)
    {
        ArgumentNullException.ThrowIfNull(server);
        Server = server;
        _connections = connections;
    }

    /// <summary>The server.</summary>
    public XenstoreServer Server { get; }

    /// <inheritdoc/>
    public IReadOnlyCollection<IDevice> ServedDevices => [];

    /// <summary>
    /// Stops the server: it stops at once; what follows waits for its connections' threads (up to 5 s each), a wait
    /// that <paramref name="cancellationToken"/> ends (the stop goes on in the background).
    /// </summary>
    /// <param name="cancellationToken">Stops waiting.</param>
    public Task StopAsync(CancellationToken cancellationToken = default) => Stop().WaitAsync(cancellationToken);

    /// <summary>Stops the server, or waits for the stop under way, unless a cancelled <see cref="StopAsync"/> already let it go on alone.</summary>
    public async ValueTask DisposeAsync()
    {
        Task? started;
        lock (_gate)
        {
            started = _stopping;
        }

        if (started is null)
        {
            await Stop().ConfigureAwait(false);
        }
    }

    private Task Stop()
    {
        lock (_gate)
        {
            return _stopping ??= Task.Run(StopCoreAsync);
        }
    }

    private async Task StopCoreAsync()
    {
        if (_connections is not null)
        {
            await _connections.CloseClientsOfAsync(Server).ConfigureAwait(false);
        }

        await Server.DisposeAsync().ConfigureAwait(false);
    }
}
