namespace VirtualDevices.Devices;

/// <summary>
/// The devices open in a session. Names are compared without regard to case, as PowerShell compares names. A device
/// stays listed from <see cref="Add"/> until it is removed (<see cref="Remove"/>, which the closing cmdlets call, or
/// <see cref="DisconnectAllAsync"/> at the end of the session), so statistics accumulate across calls. A device whose
/// peer went away stays listed, disconnected: asked for by name, it answers with its own DeviceDisconnected error,
/// which says what happened, rather than vanishing into DeviceNotFound.
/// </summary>
public sealed class DeviceRegistry
{
    private readonly object _gate = new();
    private readonly List<IDevice> _devices = [];

    /// <summary>The devices currently registered, in the order they were added.</summary>
    public IReadOnlyList<IDevice> Devices
    {
        get
        {
            lock (_gate)
            {
                return _devices.ToArray();
            }
        }
    }

    /// <summary>Lists a device until it is removed.</summary>
    /// <param name="device">The device.</param>
    /// <exception cref="DeviceException">A device of the same name is already registered.</exception>
    public void Add(IDevice device)
    {
        ArgumentNullException.ThrowIfNull(device);
        lock (_gate)
        {
            if (_devices.Exists(d => string.Equals(d.Name, device.Name, StringComparison.OrdinalIgnoreCase)))
            {
                throw new DeviceException(DeviceErrorIds.Device.NameInUse, DeviceErrorCategory.ResourceExists,
                    $"A device named '{device.Name}' is already open in this session.", device.Name);
            }

            _devices.Add(device);
        }
    }

    /// <summary>Finds a device by exact name.</summary>
    /// <param name="name">The device's name.</param>
    /// <param name="device">The device, when found.</param>
    public bool TryGet(string name, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out IDevice? device)
    {
        lock (_gate)
        {
            device = _devices.Find(d => string.Equals(d.Name, name, StringComparison.OrdinalIgnoreCase));
            return device is not null;
        }
    }

    /// <summary>Finds a device by exact name.</summary>
    /// <param name="name">The device's name.</param>
    /// <exception cref="DeviceNotFoundException">No such device is registered.</exception>
    public IDevice Get(string name) => TryGet(name, out IDevice? device) ? device : throw new DeviceNotFoundException(name);

    /// <summary>Removes a device from the list without disconnecting it.</summary>
    /// <param name="device">The device.</param>
    public bool Remove(IDevice device)
    {
        ArgumentNullException.ThrowIfNull(device);
        lock (_gate)
        {
            return _devices.Remove(device);
        }
    }

    /// <summary>Disconnects every registered device (at the end of a session). Errors of one do not stop the others.</summary>
    /// <param name="cancellationToken">Stops waiting for graceful shutdowns.</param>
    public async ValueTask DisconnectAllAsync(CancellationToken cancellationToken = default)
    {
        foreach (IDevice device in Devices)
        {
            try
            {
                await device.DisconnectAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (DeviceException)
            {
                // The device is gone either way; a failing graceful shutdown must not keep the others open.
            }

            Remove(device);
        }
    }
}
