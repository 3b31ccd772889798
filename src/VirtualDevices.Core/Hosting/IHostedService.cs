using VirtualDevices.Devices;

namespace VirtualDevices.Hosting;

/// <summary>
/// Something a <see cref="DeviceHost"/> runs in the background under a name: an NBD server, an embedded xenstore
/// server; later a hypervisor, a switch, a capture. A family adds a service by implementing this interface beside
/// its own code; the host needs no change. Disposing a service stops it at once and releases what it owns.
/// </summary>
public interface IHostedService : IAsyncDisposable
{
    /// <summary>
    /// The devices it serves, which must stay open while it runs: the host stops the service before it closes any
    /// of them (an NBD server's exports, closed under it, would fail every client request with ESHUTDOWN).
    /// </summary>
    IReadOnlyCollection<IDevice> ServedDevices { get; }

    /// <summary>Stops gracefully (requests in progress finish); <see cref="IAsyncDisposable.DisposeAsync"/> follows.</summary>
    /// <param name="cancellationToken">Cuts the graceful stop short.</param>
    Task StopAsync(CancellationToken cancellationToken = default);
}
