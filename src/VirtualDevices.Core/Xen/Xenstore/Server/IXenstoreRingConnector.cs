using VirtualDevices.IO;

namespace VirtualDevices.Xen.Xenstore.Server;

/// <summary>
/// What a hypervisor gives the embedded server so that INTRODUCE works as on Xen: the introduced domain's ring page
/// (its grant GNTTAB_RESERVED_XENSTORE, mapped) and its event channel (bound), as one transport the server then
/// serves as that domain's connection.
/// </summary>
internal interface IXenstoreRingConnector
{
    /// <summary>Maps <paramref name="domainId"/>'s xenstore page and binds its port <paramref name="port"/>.</summary>
    /// <param name="domainId">The domain being introduced.</param>
    /// <param name="frame">The page's frame as the toolstack named it (xenstored maps the reserved grant and does not need it).</param>
    /// <param name="port">The domain's unbound port for the xenstore domain.</param>
    /// <returns>The daemon's end of the ring, owning the mapping and the channel.</returns>
    /// <exception cref="DeviceException">No such domain, no such grant, or the port is not unbound for us.</exception>
    Transport Connect(int domainId, ulong frame, uint port);
}
