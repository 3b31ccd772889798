using VirtualDevices.Devices;
using VirtualDevices.Hosting;

namespace VirtualDevices.Xen.Loopback;

/// <summary>A joined domain as a service of a <see cref="DeviceHost"/>: named, listed, and left when the host closes.</summary>
public sealed partial class LoopbackDomain : IHostedService
{
    /// <summary>The prefix of the default names of a joined domain in a <see cref="DeviceHost"/>: <c>xen-join0</c>.</summary>
    /// <remarks>Not <c>xen-domain</c>: the name is given before the hypervisor gives the id, and <c>xen-domain0</c> for domain 1 would mislead.</remarks>
    public const string DefaultPrefix = "xen-join";

    /// <inheritdoc/>
    IReadOnlyCollection<IDevice> IHostedService.ServedDevices => [];

    /// <summary>Joins the hypervisor listening on <paramref name="socketPath"/> (in this process or another) as a service of <paramref name="host"/>.</summary>
    /// <param name="host">The host.</param>
    /// <param name="name">The service's name, or null for the next <c>xen-join</c> name.</param>
    /// <param name="socketPath">The hypervisor's control socket.</param>
    /// <param name="domainId">The id asked for, or null for the lowest free id from 1.</param>
    /// <param name="cancellationToken">Not used after the join starts (a join is one request, answered at once).</param>
    public static Task<LoopbackDomain> JoinAsync(DeviceHost host, string? name, string socketPath, ushort? domainId = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(host);
        ArgumentException.ThrowIfNullOrEmpty(socketPath);
        return host.StartServiceAsync(DefaultPrefix, name, (_, _) => Task.FromResult(Join(socketPath, domainId)), cancellationToken);
    }

    /// <summary>Joins <paramref name="hypervisor"/>, which runs in this process, as a service of <paramref name="host"/>.</summary>
    /// <param name="host">The host.</param>
    /// <param name="name">The service's name, or null for the next <c>xen-join</c> name.</param>
    /// <param name="hypervisor">The hypervisor.</param>
    /// <param name="domainId">The id asked for, or null for the lowest free id from 1.</param>
    /// <param name="cancellationToken">Not used after the join starts.</param>
    public static Task<LoopbackDomain> JoinAsync(DeviceHost host, string? name, LoopbackHypervisor hypervisor, ushort? domainId = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(host);
        ArgumentNullException.ThrowIfNull(hypervisor);
        return host.StartServiceAsync(DefaultPrefix, name, (_, _) => Task.FromResult(hypervisor.JoinInProcess(domainId)), cancellationToken);
    }

    /// <summary>Leaves the hypervisor (see <see cref="Dispose"/>).</summary>
    /// <param name="cancellationToken">Stops waiting for the hypervisor's answer to the goodbye (the domain leaves all the same).</param>
    public Task StopAsync(CancellationToken cancellationToken = default)
    {
        Leave(cancellationToken);
        return Task.CompletedTask;
    }

    /// <summary>Leaves the hypervisor (see <see cref="Dispose"/>).</summary>
    public ValueTask DisposeAsync()
    {
        Dispose();
        return ValueTask.CompletedTask;
    }
}
