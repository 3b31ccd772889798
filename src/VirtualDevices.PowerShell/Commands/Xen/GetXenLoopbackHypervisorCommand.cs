using VirtualDevices.Xen.Loopback;

namespace VirtualDevices.PowerShell.Commands.Xen;

/// <summary>
/// <para type="synopsis">Gets the loopback hypervisors running in the session.</para>
/// </summary>
[Cmdlet(VerbsCommon.Get, "XenLoopbackHypervisor", HelpUri = "https://github.com/VirtualDevices/VirtualDevices/blob/main/docs/VirtualDevices/Get-XenLoopbackHypervisor.md")]
[OutputType(typeof(LoopbackHypervisor))]
public sealed class GetXenLoopbackHypervisorCommand : GetServerCommand<LoopbackHypervisor>
{
    /// <inheritdoc/>
    protected override string ServerKind => "loopback hypervisor";

    /// <inheritdoc/>
    protected override object ServerOf(LoopbackHypervisor service) => service;
}
