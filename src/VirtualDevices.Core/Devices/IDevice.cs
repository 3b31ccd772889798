namespace VirtualDevices.Devices;

/// <summary>
/// What every device has, whatever its family: a name, a driver, statistics, and a way to disconnect.
/// Disposing a device disconnects it.
/// </summary>
public interface IDevice : IAsyncDisposable
{
    /// <summary>A short name, unique within its <see cref="Hosting.DeviceHost"/>, such as <c>file0</c> or <c>nbd1</c>.</summary>
    string Name { get; }

    /// <summary>The family of the device.</summary>
    DeviceKind Kind { get; }

    /// <summary>The driver that implements it, such as <c>file</c>, <c>memory</c> or <c>nbd</c>.</summary>
    string Driver { get; }

    /// <summary>Where the device is: a path, a URI or a xenstore path.</summary>
    string Location { get; }

    /// <summary>False once the device has been disconnected, by the caller or by its peer.</summary>
    bool IsConnected { get; }

    /// <summary>Raised once, when the device becomes disconnected.</summary>
    event EventHandler? Disconnected;

    /// <summary>A consistent copy of the device's counters, taken now.</summary>
    DeviceStatistics GetStatistics();

    /// <summary>Sets every counter back to zero and restarts the rate clock.</summary>
    void ResetStatistics();

    /// <summary>
    /// Disconnects the device: requests in progress end with <see cref="DeviceDisconnectedException"/> where the
    /// driver can interrupt them, later requests fail with it. Calling it twice is harmless.
    /// </summary>
    /// <param name="cancellationToken">Stops waiting for a graceful shutdown of a remote peer.</param>
    ValueTask DisconnectAsync(CancellationToken cancellationToken = default);
}
