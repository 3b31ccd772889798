namespace VirtualDevices.Xen.Loopback;

/// <summary>An event channel port tracked by a loopback hypervisor, as it stood when asked.</summary>
/// <param name="DomainId">The port's domain.</param>
/// <param name="Port">The port.</param>
/// <param name="RemoteDomain">The domain at the other end (or allowed to bind it, while unbound).</param>
/// <param name="RemotePort">The port at the other end; 0 while unbound.</param>
public sealed record LoopbackChannelInfo(ushort DomainId, uint Port, ushort RemoteDomain, uint RemotePort);
