using VirtualDevices.Xen.Loopback;

namespace VirtualDevices.PowerShell.Commands.Xen;

/// <summary>
/// <para type="synopsis">Gets the grants the session's loopback hypervisors track: granter, reference, grantee, access, and how often each is mapped.</para>
/// </summary>
[Cmdlet(VerbsCommon.Get, "XenGrant", HelpUri = "https://github.com/VirtualDevices/VirtualDevices/blob/main/docs/VirtualDevices/Get-XenGrant.md")]
[OutputType(typeof(LoopbackGrantInfo))]
public sealed class GetXenGrantCommand : XenHypervisorListCommand<LoopbackGrantInfo>
{
    /// <inheritdoc/>
    /// <remarks>A domain's grants both ways: the pages it granted and the pages granted to it.</remarks>
    protected override bool Concerns(LoopbackGrantInfo record, ushort domainId) => record.Granter == domainId || record.Grantee == domainId;

    /// <inheritdoc/>
    protected override IEnumerable<LoopbackGrantInfo> List(LoopbackHypervisor hypervisor) => hypervisor.Grants;
}
