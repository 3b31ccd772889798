namespace VirtualDevices.PowerShell.Commands.Xenstore;

/// <summary>
/// <para type="synopsis">Stops embedded xenstore servers: their clients are disconnected and their contents discarded.</para>
/// </summary>
[Cmdlet(VerbsLifecycle.Stop, "XenstoreServer", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium, HelpUri = "https://github.com/VirtualDevices/VirtualDevices/blob/main/docs/VirtualDevices/Stop-XenstoreServer.md")]
[OutputType(typeof(void))]
public sealed class StopXenstoreServerCommand : StopServerCommand<XenstoreServer, XenstoreServerService>
{
    /// <summary>The servers to stop, as objects or names.</summary>
    [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true)]
    [Alias("Name")]
    [XenstoreServerTransformation]
    [ArgumentCompleter(typeof(ServerNameCompleter))]
    public XenstoreServer[] Server { get; set; } = null!;

    /// <inheritdoc/>
    protected override IEnumerable<XenstoreServer> Servers => Server;

    /// <inheritdoc/>
    protected override string Action => "Stop the xenstore server (its contents are lost)";

    /// <inheritdoc/>
    protected override XenstoreServer ServerOf(XenstoreServerService service) => service.Server;

    /// <inheritdoc/>
    protected override string NameOutsideSession(XenstoreServer server) => server.SocketPath ?? "xenstore";

    /// <inheritdoc/>
    protected override Func<CancellationToken, Task> Stop(XenstoreServer server, XenstoreServerService? service)
    {
        // A server made outside the session (a core object passed in) is stopped all the same, with the session's connections to it.
        XenstoreServerService stopped = service ?? new XenstoreServerService(server, Session.Xenstore);
        return cancellationToken => SessionHost.StopServiceAsync(stopped, cancellationToken);
    }
}
