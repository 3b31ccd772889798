using VirtualDevices.Interop;

namespace VirtualDevices.Xen.Loopback;

/// <summary>One event channel port the loopback hypervisor tracks: its domain's eventfd, and its other end once bound.</summary>
internal sealed class LoopbackPortRecord(ushort domain, uint port, ushort remoteDomain, SafeFileDescriptor incoming)
{
    public ushort Domain { get; } = domain;

    public uint Port { get; } = port;

    public ushort RemoteDomain { get; } = remoteDomain;

    /// <summary>The eventfd this port's domain waits on: what the other end writes to notify it.</summary>
    public SafeFileDescriptor Incoming { get; } = incoming;

    /// <summary>The port at the other end, once bound; 0 while unbound.</summary>
    public uint RemotePort { get; set; }
}
