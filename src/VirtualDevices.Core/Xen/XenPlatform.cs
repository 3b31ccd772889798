using System.Runtime.CompilerServices;
using VirtualDevices.Hosting;
using VirtualDevices.Xen.EventChannels;
using VirtualDevices.Xen.Grants;
using VirtualDevices.Xen.Loopback;

namespace VirtualDevices.Xen;

/// <summary>
/// The grant table and event channels a split driver uses, from whichever platform this machine has: real Xen when
/// Linux's Xen device nodes exist (<c>gntalloc</c>, <c>gntdev</c>, <c>evtchn</c> under <c>/dev/xen</c>), otherwise
/// the loopback hypervisor of the session's <see cref="DeviceHost"/> (the one running, or one started for it). The
/// same driver code then runs on both.
/// </summary>
/// <remarks>
/// All three nodes are needed: a frontend needs gntalloc and a backend gntdev, and both need evtchn; a machine with
/// only some (a kernel without one of the modules) is not a usable Xen, and the loopback is used rather than a
/// platform that fails on first use. Disposing closes this domain's view: on the loopback it leaves the
/// hypervisor (which keeps running, a service of the host); on Xen it closes the device nodes.
/// </remarks>
public sealed class XenPlatform : IDisposable
{
    /// <summary>Where Linux puts the Xen device nodes.</summary>
    public const string DefaultDeviceDirectory = "/dev/xen";

    private static readonly string[] s_nodes = ["gntalloc", "gntdev", "evtchn"];

    // One per host, gone with it (a semaphore holds no handle until AvailableWaitHandle is asked for).
    private static readonly ConditionalWeakTable<DeviceHost, SemaphoreSlim> s_starting = new();

    private XenPlatform(XenPlatformKind kind, IGrantTable grants, IEventChannels channels, LoopbackHypervisor? hypervisor, string? hypervisorName)
    {
        Kind = kind;
        Grants = grants;
        EventChannels = channels;
        Hypervisor = hypervisor;
        HypervisorName = hypervisorName;
    }

    /// <summary>Which platform this is.</summary>
    public XenPlatformKind Kind { get; }

    /// <summary>The domain's grant table.</summary>
    public IGrantTable Grants { get; }

    /// <summary>The domain's event channels.</summary>
    public IEventChannels EventChannels { get; }

    /// <summary>The loopback hypervisor used, or null on real Xen.</summary>
    public LoopbackHypervisor? Hypervisor { get; }

    /// <summary>The loopback hypervisor's name in the host, or null on real Xen.</summary>
    public string? HypervisorName { get; }

    /// <summary>The platform this machine offers: <see cref="XenPlatformKind.Xen"/> when every Xen device node exists.</summary>
    /// <param name="deviceDirectory">Where the nodes are looked for; <c>/dev/xen</c> but for tests.</param>
    public static XenPlatformKind Detect(string deviceDirectory = DefaultDeviceDirectory)
    {
        ArgumentException.ThrowIfNullOrEmpty(deviceDirectory);
        return OperatingSystem.IsLinux() && s_nodes.All(node => File.Exists(Path.Combine(deviceDirectory, node)))
            ? XenPlatformKind.Xen
            : XenPlatformKind.Loopback;
    }

    /// <summary>Which platform <see cref="OpenAsync"/> would use now, and on the loopback which hypervisor, without opening anything.</summary>
    /// <param name="host">The session's host.</param>
    /// <param name="deviceDirectory">Where the Xen nodes are looked for.</param>
    public static XenPlatformInfo Describe(DeviceHost host, string deviceDirectory = DefaultDeviceDirectory)
    {
        ArgumentNullException.ThrowIfNull(host);
        if (Detect(deviceDirectory) == XenPlatformKind.Xen)
        {
            return new XenPlatformInfo(XenPlatformKind.Xen, deviceDirectory, null, null);
        }

        return host.GetServices<LoopbackHypervisor>() is [var running, ..]
            ? new XenPlatformInfo(XenPlatformKind.Loopback, deviceDirectory, running.Name, running.Service.SocketPath)
            : new XenPlatformInfo(XenPlatformKind.Loopback, deviceDirectory, null, null);
    }

    /// <summary>
    /// Opens the platform <see cref="Detect"/> picks: on real Xen, the device nodes under
    /// <paramref name="deviceDirectory"/>; otherwise a domain joined to the host's loopback hypervisor (its first
    /// one, or a new in-process one started as a service of the host when it has none).
    /// </summary>
    /// <param name="host">The session's host.</param>
    /// <param name="domainId">On the loopback, the domain id asked for (null: the lowest free from 1); ignored on Xen, where the domain is the one this runs in.</param>
    /// <param name="deviceDirectory">Where the Xen nodes are looked for.</param>
    /// <param name="cancellationToken">Cuts a hypervisor start short.</param>
    /// <exception cref="DeviceException">The platform could not be opened (a Xen node refused, the domain id taken).</exception>
    public static async Task<XenPlatform> OpenAsync(DeviceHost host, ushort? domainId = null, string deviceDirectory = DefaultDeviceDirectory, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(host);
        if (Detect(deviceDirectory) == XenPlatformKind.Xen)
        {
            var grants = new XenGrantTable(Path.Combine(deviceDirectory, "gntalloc"), Path.Combine(deviceDirectory, "gntdev"));
            try
            {
                return new XenPlatform(XenPlatformKind.Xen, grants, XenEventChannels.Open(Path.Combine(deviceDirectory, "evtchn")), null, null);
            }
            catch
            {
                grants.Dispose();
                throw;
            }
        }

        (string name, LoopbackHypervisor hypervisor) = await SessionHypervisorAsync(host, cancellationToken).ConfigureAwait(false);
        LoopbackDomain domain = hypervisor.JoinInProcess(domainId);
        return new XenPlatform(XenPlatformKind.Loopback, domain, domain, hypervisor, name);
    }

    /// <summary>The host's first loopback hypervisor, or a new in-process one (no socket) when it has none.</summary>
    /// <param name="host">The host.</param>
    /// <param name="cancellationToken">Cuts the start short.</param>
    public static async Task<(string Name, LoopbackHypervisor Hypervisor)> SessionHypervisorAsync(DeviceHost host, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(host);

        // Look and start under one lock per host: two openings at once each saw no hypervisor and started one (1 round
        // in about 300 of 8 openings at once, before this lock).
        SemaphoreSlim starting = s_starting.GetValue(host, static _ => new SemaphoreSlim(1, 1));
        await starting.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (host.GetServices<LoopbackHypervisor>() is [var running, ..])
            {
                return (running.Name, running.Service);
            }

            LoopbackHypervisor started = await LoopbackHypervisor.StartAsync(host, null, null, cancellationToken).ConfigureAwait(false);
            return (host.NameOf(started) ?? LoopbackHypervisor.DefaultPrefix, started);
        }
        finally
        {
            starting.Release();
        }
    }

    /// <summary>Closes this domain's view of the platform (leaves the loopback hypervisor, which keeps running).</summary>
    public void Dispose()
    {
        Grants.Dispose();
        if (!ReferenceEquals(Grants, EventChannels))
        {
            EventChannels.Dispose();
        }
    }
}
