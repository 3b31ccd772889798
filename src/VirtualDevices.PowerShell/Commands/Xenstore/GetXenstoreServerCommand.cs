namespace VirtualDevices.PowerShell.Commands.Xenstore;

/// <summary>
/// <para type="synopsis">Gets the embedded xenstore servers running in the session.</para>
/// </summary>
[Cmdlet(VerbsCommon.Get, "XenstoreServer", HelpUri = "https://github.com/VirtualDevices/VirtualDevices/blob/main/docs/VirtualDevices/Get-XenstoreServer.md")]
[OutputType(typeof(XenstoreServer))]
public sealed class GetXenstoreServerCommand : GetServerCommand<XenstoreServerService>
{
    /// <inheritdoc/>
    protected override string ServerKind => "xenstore server";

    /// <inheritdoc/>
    protected override object ServerOf(XenstoreServerService service) => service.Server;
}
