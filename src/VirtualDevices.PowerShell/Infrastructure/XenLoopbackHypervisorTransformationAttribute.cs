using VirtualDevices.Xen.Loopback;

namespace VirtualDevices.PowerShell.Infrastructure;

/// <summary>
/// Lets a hypervisor parameter take the name of a loopback hypervisor of the session as well as the object; an
/// unknown name binds a placeholder that the command reports as a non-terminating XenLoopbackHypervisorNotFound error
/// (<see cref="UnknownServers"/>).
/// </summary>
[AttributeUsage(AttributeTargets.Property | AttributeTargets.Field)]
public sealed class XenLoopbackHypervisorTransformationAttribute : ServerTransformationAttribute
{
    /// <inheritdoc/>
    protected override object FromName(string name) => FindService<LoopbackHypervisor>(name) ?? (object)UnknownServers.XenLoopback(name);
}
