using VirtualDevices.Xen.Loopback;

namespace VirtualDevices.PowerShell.Commands.Xen;

/// <summary>
/// <para type="synopsis">Gets the domains this session joined to loopback hypervisors (with Join-XenLoopbackHypervisor).</para>
/// </summary>
[Cmdlet(VerbsCommon.Get, "XenLoopbackDomain", HelpUri = "https://github.com/VirtualDevices/VirtualDevices/blob/main/docs/VirtualDevices/Get-XenLoopbackDomain.md")]
[OutputType(typeof(LoopbackDomain))]
public sealed class GetXenLoopbackDomainCommand : GetServerCommand<LoopbackDomain>
{
    /// <inheritdoc/>
    protected override string ServerKind => "joined loopback domain";

    /// <inheritdoc/>
    protected override object ServerOf(LoopbackDomain service) => service;
}
