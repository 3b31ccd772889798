namespace VirtualDevices.PowerShell.Commands.Nbd;

/// <summary>
/// <para type="synopsis">Gets the NBD servers running in the session, with their exports and endpoints.</para>
/// </summary>
[Cmdlet(VerbsCommon.Get, "NbdServer", HelpUri = "https://github.com/VirtualDevices/VirtualDevices/blob/main/docs/VirtualDevices/Get-NbdServer.md")]
[OutputType(typeof(NbdServer))]
public sealed class GetNbdServerCommand : GetServerCommand<NbdServerService>
{
    /// <inheritdoc/>
    protected override string ServerKind => "NBD server";

    /// <inheritdoc/>
    protected override object ServerOf(NbdServerService service) => service.Server;
}
