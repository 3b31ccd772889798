using System.Diagnostics.CodeAnalysis;
using VirtualDevices.Devices;

namespace VirtualDevices.Hosting;

/// <summary>
/// Owns what a session opens: its devices, the services it runs (<see cref="IHostedService"/>: NBD servers,
/// embedded xenstore servers...) and the per-session state of a family (<see cref="GetOrAddPart{T}"/>: the
/// xenstore connections). It names devices and services one way (<see cref="NameTable"/>: a given name, or the
/// driver's prefix and the next number, per host) and closes everything in the reverse order of creation, a service
/// always before the devices it serves. Safe to call from any thread.
/// </summary>
/// <remarks>
/// A device stays listed from its addition until it is removed (<see cref="RemoveDevice"/>, or the host's
/// disposal), disconnected or not: asked for by name, a device whose peer went away answers with its own
/// DeviceDisconnected error, which says what happened, rather than vanishing into DeviceNotFound.
/// </remarks>
public sealed class DeviceHost : IAsyncDisposable
{
    private readonly object _gate = new();
    private readonly NameTable _deviceNames = new(DeviceErrorIds.Device.NameInUse, "device", "open");
    private readonly NameTable _serviceNames = new(DeviceErrorIds.Service.NameInUse, "server", "running");

    // Everything the host owns, in the order it was added: disposal runs backwards through it.
    private readonly List<Member> _members = [];
    private bool _disposed;

    /// <summary>The devices, in the order they were added.</summary>
    public IReadOnlyList<IDevice> Devices
    {
        get
        {
            lock (_gate)
            {
                return _members.Where(m => m.Kind == MemberKind.Device).Select(m => (IDevice)m.Value).ToArray();
            }
        }
    }

    /// <summary>The services, with their names, in the order they were started.</summary>
    public IReadOnlyList<HostedName<IHostedService>> Services => GetServices<IHostedService>();

    /// <summary>Adds a device made by <paramref name="create"/> under <paramref name="name"/>, or under the next default name of <paramref name="prefix"/>.</summary>
    /// <typeparam name="T">The device's type.</typeparam>
    /// <param name="prefix">The prefix of default names: the driver, such as <c>memory</c>, <c>file</c>, <c>nbd</c>.</param>
    /// <param name="name">The name asked for, or null for a default name.</param>
    /// <param name="create">Makes the device with the name it is given. It is not called when the name is in use, so a taken name creates nothing (no image file).</param>
    /// <exception cref="DeviceException">The name breaks the rule of <see cref="HostNames"/> (<c>InvalidName</c>) or is in use (<c>DeviceNameInUse</c>); or whatever <paramref name="create"/> throws, after which the name is free again.</exception>
    public T AddDevice<T>(string prefix, string? name, Func<string, T> create)
        where T : IDevice
    {
        ArgumentNullException.ThrowIfNull(create);
        return AddDeviceAsync(prefix, name, (n, _) => Task.FromResult(create(n)), CancellationToken.None).GetAwaiter().GetResult();
    }

    /// <summary>Adds a device made asynchronously (an NBD connect); see <see cref="AddDevice{T}(string, string?, Func{string, T})"/>.</summary>
    /// <typeparam name="T">The device's type.</typeparam>
    /// <param name="prefix">The prefix of default names.</param>
    /// <param name="name">The name asked for, or null for a default name.</param>
    /// <param name="create">Makes the device with the name it is given.</param>
    /// <param name="cancellationToken">Passed to <paramref name="create"/>.</param>
    public async Task<T> AddDeviceAsync<T>(string prefix, string? name, Func<string, CancellationToken, Task<T>> create, CancellationToken cancellationToken = default)
        where T : IDevice
    {
        ArgumentNullException.ThrowIfNull(prefix);
        ArgumentNullException.ThrowIfNull(create);
        (string reserved, T device) = await MakeUnderReservedNameAsync(_deviceNames, prefix, name, create, cancellationToken).ConfigureAwait(false);
        if (!string.Equals(device.Name, reserved, StringComparison.OrdinalIgnoreCase))
        {
            Unreserve(_deviceNames, reserved, prefix);
            await device.DisconnectAsync(CancellationToken.None).ConfigureAwait(false);
            throw new InvalidOperationException($"The device was made as '{device.Name}', not under the name '{reserved}' it was given.");
        }

        await CommitAsync(new Member(MemberKind.Device, device, reserved)).ConfigureAwait(false);
        return device;
    }

    /// <summary>Adds a device made elsewhere, under its own name.</summary>
    /// <param name="device">The device.</param>
    /// <exception cref="DeviceException">Its name is in use (<c>DeviceNameInUse</c>).</exception>
    public void AddDevice(IDevice device)
    {
        ArgumentNullException.ThrowIfNull(device);
        ArgumentException.ThrowIfNullOrEmpty(device.Name);
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            _deviceNames.Reserve(device.Name, prefix: string.Empty);
            _members.Add(new Member(MemberKind.Device, device, device.Name));
        }
    }

    /// <summary>Finds a device by name (without regard to case).</summary>
    /// <param name="name">The device's name.</param>
    /// <param name="device">The device, when found.</param>
    public bool TryGetDevice(string name, [NotNullWhen(true)] out IDevice? device)
    {
        lock (_gate)
        {
            device = _members.Find(m => m.Kind == MemberKind.Device && string.Equals(m.Name, name, StringComparison.OrdinalIgnoreCase))?.Value as IDevice;
            return device is not null;
        }
    }

    /// <summary>Finds a device by name.</summary>
    /// <param name="name">The device's name.</param>
    /// <exception cref="DeviceNotFoundException">The host has no such device.</exception>
    public IDevice GetDevice(string name) => TryGetDevice(name, out IDevice? device) ? device : throw new DeviceNotFoundException(name);

    /// <summary>Removes a device from the host without disconnecting it; its name is free again.</summary>
    /// <param name="device">The device.</param>
    public bool RemoveDevice(IDevice device) => Remove(device);

    /// <summary>Starts a service made by <paramref name="start"/> under <paramref name="name"/>, or under the next default name of <paramref name="prefix"/>.</summary>
    /// <typeparam name="T">The service's type.</typeparam>
    /// <param name="prefix">The prefix of default names, such as <c>nbd-server</c>.</param>
    /// <param name="name">The name asked for, or null.</param>
    /// <param name="start">Starts the service (it is given its name). Not called when the name is in use, so a taken name never costs a socket.</param>
    /// <param name="cancellationToken">Passed to <paramref name="start"/>.</param>
    /// <exception cref="DeviceException">The name breaks the rule of <see cref="HostNames"/> (<c>InvalidName</c>) or is in use (<c>ServiceNameInUse</c>); or whatever <paramref name="start"/> throws, after which the name is free again.</exception>
    public async Task<T> StartServiceAsync<T>(string prefix, string? name, Func<string, CancellationToken, Task<T>> start, CancellationToken cancellationToken = default)
        where T : IHostedService
    {
        ArgumentNullException.ThrowIfNull(prefix);
        ArgumentNullException.ThrowIfNull(start);
        (string reserved, T service) = await MakeUnderReservedNameAsync(_serviceNames, prefix, name, start, cancellationToken).ConfigureAwait(false);
        await CommitAsync(new Member(MemberKind.Service, service, reserved)).ConfigureAwait(false);
        return service;
    }

    /// <summary>The services of type <typeparamref name="T"/>, with their names, in the order they were started.</summary>
    /// <typeparam name="T">The type.</typeparam>
    public IReadOnlyList<HostedName<T>> GetServices<T>()
    {
        lock (_gate)
        {
            return _members.Where(m => m.Kind == MemberKind.Service && m.Value is T).Select(m => new HostedName<T>(m.Name!, (T)m.Value)).ToArray();
        }
    }

    /// <summary>The name of a service of the host, or null.</summary>
    /// <param name="service">The service.</param>
    public string? NameOf(IHostedService service)
    {
        lock (_gate)
        {
            return Find(service)?.Name;
        }
    }

    /// <summary>The services that serve <paramref name="device"/> (which must stop before it closes).</summary>
    /// <param name="device">The device.</param>
    public IReadOnlyList<HostedName<IHostedService>> ServicesServing(IDevice device)
    {
        ArgumentNullException.ThrowIfNull(device);
        return Services.Where(s => s.Service.ServedDevices.Contains(device)).ToArray();
    }

    /// <summary>
    /// Removes a service from the host and stops it: gracefully, then disposed (even when the graceful stop is cut
    /// short), so what it owns is released either way.
    /// </summary>
    /// <param name="service">The service.</param>
    /// <param name="cancellationToken">Cuts the graceful stop short.</param>
    public async Task StopServiceAsync(IHostedService service, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(service);
        Remove(service);
        try
        {
            await service.StopAsync(cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            await service.DisposeAsync().ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Stops the services serving <paramref name="device"/>, disconnects it and removes it from the host.
    /// </summary>
    /// <param name="device">The device.</param>
    /// <param name="cancellationToken">Cuts graceful stops short.</param>
    public async Task CloseDeviceAsync(IDevice device, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(device);
        foreach (HostedName<IHostedService> service in ServicesServing(device))
        {
            await StopServiceAsync(service.Service, cancellationToken).ConfigureAwait(false);
        }

        await device.DisconnectAsync(cancellationToken).ConfigureAwait(false);
        Remove(device);
    }

    /// <summary>
    /// The host's one <typeparamref name="T"/>, made on first use: the state of a family that is neither a device
    /// nor a named service (the session's xenstore connections). It is disposed with the host, in creation order.
    /// </summary>
    /// <typeparam name="T">The part's type.</typeparam>
    /// <param name="create">Makes it, the first time.</param>
    public T GetOrAddPart<T>(Func<T> create)
        where T : class, IAsyncDisposable
    {
        ArgumentNullException.ThrowIfNull(create);
        lock (_gate)
        {
            if (_members.Find(m => m.Kind == MemberKind.Part && m.Value is T)?.Value is T existing)
            {
                return existing;
            }

            ObjectDisposedException.ThrowIf(_disposed, this);
            T part = create();
            _members.Add(new Member(MemberKind.Part, part, null));
            return part;
        }
    }

    /// <summary>
    /// Closes everything, newest first: a service stops before the devices it serves (whatever their order), and
    /// the failure of one does not keep the others open.
    /// </summary>
    /// <exception cref="AggregateException">Something failed to close (everything else was closed).</exception>
    public async ValueTask DisposeAsync()
    {
        List<Member> members;
        lock (_gate)
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            members = [.. _members];
        }

        var failures = new List<Exception>();
        for (int i = members.Count - 1; i >= 0; i--)
        {
            Member member = members[i];
            if (member.Kind == MemberKind.Device)
            {
                // Services started before the device serve it only by a mistake of order; stop them first anyway.
                foreach (HostedName<IHostedService> service in ServicesServing((IDevice)member.Value))
                {
                    await CloseAsync(service.Service, failures).ConfigureAwait(false);
                }
            }

            await CloseAsync(member.Value, failures).ConfigureAwait(false);
        }

        if (failures.Count > 0)
        {
            throw new AggregateException("Some of the host's devices or services failed to close; the rest were closed.", failures);
        }
    }

    private async ValueTask CloseAsync(object value, List<Exception> failures)
    {
        if (!Remove(value))
        {
            return; // already closed (a service stopped ahead of its device)
        }

        try
        {
            if (value is IDevice device)
            {
                await device.DisconnectAsync(CancellationToken.None).ConfigureAwait(false);
            }
            else
            {
                await ((IAsyncDisposable)value).DisposeAsync().ConfigureAwait(false);
            }
        }
        catch (Exception e)
        {
            // Gone either way: the host is closing, and one failure must not keep the rest open.
            failures.Add(e);
        }
    }

    /// <summary>
    /// Reserves <paramref name="name"/> (or the next default name of <paramref name="prefix"/>) in
    /// <paramref name="table"/> and makes the member under it; when <paramref name="make"/> throws, the name is free again.
    /// </summary>
    private async Task<(string Reserved, T Member)> MakeUnderReservedNameAsync<T>(NameTable table, string prefix, string? name, Func<string, CancellationToken, Task<T>> make, CancellationToken cancellationToken)
    {
        string reserved = Reserve(table, name, prefix);
        try
        {
            return (reserved, await make(reserved, cancellationToken).ConfigureAwait(false));
        }
        catch
        {
            Unreserve(table, reserved, prefix);
            throw;
        }
    }

    private string Reserve(NameTable table, string? name, string prefix)
    {
        if (!string.IsNullOrEmpty(name) && !HostNames.IsValid(name))
        {
            throw HostNames.Invalid(name);
        }

        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            return table.Reserve(name, prefix);
        }
    }

    private void Unreserve(NameTable table, string name, string prefix)
    {
        lock (_gate)
        {
            table.Unreserve(name, prefix);
        }
    }

    private async ValueTask CommitAsync(Member member)
    {
        lock (_gate)
        {
            if (!_disposed)
            {
                _members.Add(member);
                return;
            }
        }

        // The host closed while the object was being made: close it too, rather than leak it.
        await ((IAsyncDisposable)member.Value).DisposeAsync().ConfigureAwait(false);
        throw new ObjectDisposedException(nameof(DeviceHost));
    }

    private Member? Find(object value) => _members.Find(m => ReferenceEquals(m.Value, value));

    private bool Remove(object value)
    {
        lock (_gate)
        {
            Member? member = Find(value);
            if (member is null)
            {
                return false;
            }

            _members.Remove(member);
            if (member.Name is not null)
            {
                (member.Kind == MemberKind.Device ? _deviceNames : _serviceNames).Release(member.Name);
            }

            return true;
        }
    }

    private enum MemberKind
    {
        Device,
        Service,
        Part,
    }

    private sealed record Member(MemberKind Kind, object Value, string? Name);
}
