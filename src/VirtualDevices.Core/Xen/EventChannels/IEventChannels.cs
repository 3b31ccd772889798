namespace VirtualDevices.Xen.EventChannels;

/// <summary>
/// A domain's event channels as a split driver uses them: allocate a port another domain binds, or bind the port
/// another domain allocated. The same on real Xen (<see cref="XenEventChannels"/>: <c>/dev/xen/evtchn</c>) and on
/// the loopback hypervisor (<c>Loopback.LoopbackDomain</c>: eventfds).
/// </summary>
public interface IEventChannels : IDisposable
{
    /// <summary>Allocates a port that <paramref name="remoteDomain"/> may bind (its number goes to it, through xenstore usually).</summary>
    /// <param name="remoteDomain">The domain allowed to bind it.</param>
    /// <exception cref="DeviceException">The platform refused.</exception>
    IEventChannel AllocateUnbound(ushort remoteDomain);

    /// <summary>Binds the port <paramref name="remotePort"/> that <paramref name="remoteDomain"/> allocated for this domain.</summary>
    /// <param name="remoteDomain">The domain that allocated it.</param>
    /// <param name="remotePort">Its port.</param>
    /// <remarks>The new channel starts with one event pending (as Xen does: the other end may have notified before the bind).</remarks>
    /// <exception cref="DeviceException">No such port, it is not unbound, or it is not meant for this domain.</exception>
    IEventChannel BindInterdomain(ushort remoteDomain, uint remotePort);
}
