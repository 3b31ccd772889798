using VirtualDevices.Xen.Loopback;

namespace VirtualDevices.PowerShell.Commands.Xen;

/// <summary>
/// <para type="synopsis">Gets the domains joined to the session's loopback hypervisors: id, grant arena, grants made and ports held.</para>
/// </summary>
[Cmdlet(VerbsCommon.Get, "XenDomain", HelpUri = "https://github.com/VirtualDevices/VirtualDevices/blob/main/docs/VirtualDevices/Get-XenDomain.md")]
[OutputType(typeof(LoopbackDomainInfo))]
public sealed class GetXenDomainCommand : XenHypervisorListCommand<LoopbackDomainInfo>
{
    /// <inheritdoc/>
    protected override IEnumerable<LoopbackDomainInfo> List(LoopbackHypervisor hypervisor) => hypervisor.Domains;

    /// <inheritdoc/>
    protected override bool Concerns(LoopbackDomainInfo record, ushort domainId) => record.DomainId == domainId;
}
