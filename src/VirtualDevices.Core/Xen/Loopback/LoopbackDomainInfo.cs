namespace VirtualDevices.Xen.Loopback;

/// <summary>A domain joined to a loopback hypervisor, as it stood when asked.</summary>
/// <param name="DomainId">The domain's id.</param>
/// <param name="ArenaPages">The pages of its grant arena.</param>
/// <param name="Grants">The grants it has made that have not been released.</param>
/// <param name="Ports">Its event channel ports.</param>
public sealed record LoopbackDomainInfo(ushort DomainId, int ArenaPages, int Grants, int Ports);
