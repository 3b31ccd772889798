using System.Globalization;

namespace VirtualDevices.PowerShell.Infrastructure;

/// <summary>
/// The servers a session started (an embedded xenstore, NBD servers), by name, so that Get-/Stop- cmdlets find them
/// and the session stops them when it closes.
/// </summary>
public sealed class ServiceRegistry
{
    private readonly object _gate = new();
    private readonly List<(string Name, IAsyncDisposable Service)> _services = [];
    private readonly Dictionary<string, int> _counters = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>Adds a service under <paramref name="name"/>, or under the next free <c>prefixN</c> when null.</summary>
    /// <param name="service">The running service.</param>
    /// <param name="name">Its name, or null.</param>
    /// <param name="prefix">The prefix of default names.</param>
    /// <returns>The name given.</returns>
    public string Add(IAsyncDisposable service, string? name, string prefix)
    {
        lock (_gate)
        {
            if (name is null)
            {
                int next = _counters.GetValueOrDefault(prefix);
                do
                {
                    name = prefix + next.ToString(CultureInfo.InvariantCulture);
                    next++;
                }
                while (_services.Exists(s => string.Equals(s.Name, name, StringComparison.OrdinalIgnoreCase)));
                _counters[prefix] = next;
            }
            else if (_services.Exists(s => string.Equals(s.Name, name, StringComparison.OrdinalIgnoreCase)))
            {
                throw new DeviceException(DeviceErrorIds.Service.NameInUse, DeviceErrorCategory.ResourceExists, $"A server named '{name}' is already running in this session.", name);
            }

            _services.Add((name, service));
            return name;
        }
    }

    /// <summary>Fails with ServiceNameInUse when a service of that name runs.</summary>
    /// <param name="name">The name to check, or null (always free: a default name is chosen).</param>
    public void EnsureNameIsFree(string? name)
    {
        lock (_gate)
        {
            if (name is not null && _services.Exists(s => string.Equals(s.Name, name, StringComparison.OrdinalIgnoreCase)))
            {
                throw new DeviceException(DeviceErrorIds.Service.NameInUse, DeviceErrorCategory.ResourceExists, $"A server named '{name}' is already running in this session.", name);
            }
        }
    }

    /// <summary>The services of type <typeparamref name="T"/>, with their names.</summary>
    public IReadOnlyList<(string Name, T Service)> OfType<T>()
    {
        lock (_gate)
        {
            return _services.Where(s => s.Service is T).Select(s => (s.Name, (T)s.Service)).ToList();
        }
    }

    /// <summary>The name a service was registered under, or null.</summary>
    /// <param name="service">The service.</param>
    public string? NameOf(object service)
    {
        lock (_gate)
        {
            return _services.Find(s => ReferenceEquals(s.Service, service)).Name;
        }
    }

    /// <summary>Removes a service from the list (without stopping it).</summary>
    /// <param name="service">The service.</param>
    public bool Remove(object service)
    {
        lock (_gate)
        {
            return _services.RemoveAll(s => ReferenceEquals(s.Service, service)) > 0;
        }
    }

    /// <summary>Stops and removes every service; a failure of one does not keep the others running.</summary>
    public async ValueTask StopAllAsync()
    {
        List<(string Name, IAsyncDisposable Service)> services;
        lock (_gate)
        {
            services = [.. _services];
            _services.Clear();
        }

        foreach ((_, IAsyncDisposable service) in services)
        {
            try
            {
                await service.DisposeAsync().ConfigureAwait(false);
            }
            catch (Exception e) when (e is DeviceException or IOException or ObjectDisposedException)
            {
                // The session is closing: a server that fails to stop cleanly is gone all the same.
            }
        }
    }
}
