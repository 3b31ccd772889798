using VirtualDevices.Xen;

namespace VirtualDevices.PowerShell.Commands.Xen;

/// <summary>
/// <para type="synopsis">Shows which Xen platform the session's Xen drivers use: real Xen when its device nodes exist, otherwise the loopback hypervisor.</para>
/// </summary>
[Cmdlet(VerbsCommon.Get, "XenPlatform", HelpUri = "https://github.com/VirtualDevices/VirtualDevices/blob/main/docs/VirtualDevices/Get-XenPlatform.md")]
[OutputType(typeof(XenPlatformInfo))]
public sealed class GetXenPlatformCommand : PSCmdlet
{
    /// <inheritdoc/>
    protected override void ProcessRecord() => WriteObject(XenPlatform.Describe(ModuleSession.Current.Host));
}
