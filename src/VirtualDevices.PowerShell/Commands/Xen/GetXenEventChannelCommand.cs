using VirtualDevices.Xen.Loopback;

namespace VirtualDevices.PowerShell.Commands.Xen;

/// <summary>
/// <para type="synopsis">Gets the event channel ports of the session's loopback hypervisors: each domain's ports and the port at the other end.</para>
/// </summary>
[Cmdlet(VerbsCommon.Get, "XenEventChannel", HelpUri = "https://github.com/VirtualDevices/VirtualDevices/blob/main/docs/VirtualDevices/Get-XenEventChannel.md")]
[OutputType(typeof(LoopbackChannelInfo))]
public sealed class GetXenEventChannelCommand : XenHypervisorListCommand<LoopbackChannelInfo>
{
    /// <inheritdoc/>
    /// <remarks>A domain's own ports (each channel has a port in each of its two domains).</remarks>
    protected override bool Concerns(LoopbackChannelInfo record, ushort domainId) => record.DomainId == domainId;

    /// <inheritdoc/>
    protected override IEnumerable<LoopbackChannelInfo> List(LoopbackHypervisor hypervisor) => hypervisor.Channels;
}
