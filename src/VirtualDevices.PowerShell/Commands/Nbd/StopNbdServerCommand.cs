namespace VirtualDevices.PowerShell.Commands.Nbd;

/// <summary>
/// <para type="synopsis">Stops NBD servers: no new clients, connected clients disconnected after their requests complete.</para>
/// </summary>
[Cmdlet(VerbsLifecycle.Stop, "NbdServer", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium, HelpUri = "https://github.com/VirtualDevices/VirtualDevices/blob/main/docs/VirtualDevices/Stop-NbdServer.md")]
[OutputType(typeof(void))]
public sealed class StopNbdServerCommand : StopServerCommand<NbdServer, NbdServerService>
{
    /// <summary>The servers to stop, as objects or names.</summary>
    [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true)]
    [Alias("Name")]
    [NbdServerTransformation]
    [ArgumentCompleter(typeof(ServerNameCompleter))]
    public NbdServer[] Server { get; set; } = null!;

    /// <inheritdoc/>
    protected override IEnumerable<NbdServer> Servers => Server;

    /// <inheritdoc/>
    protected override string Action => "Stop the NBD server";

    /// <inheritdoc/>
    protected override NbdServer ServerOf(NbdServerService service) => service.Server;

    /// <inheritdoc/>
    protected override string NameOutsideSession(NbdServer server) => "nbd-server";

    /// <inheritdoc/>
    protected override Func<CancellationToken, Task> Stop(NbdServer server, NbdServerService? service) => async cancellationToken =>
    {
        if (service is null)
        {
            // A server made outside the session (a core object passed in): stopped, not owned.
            await server.StopAsync(cancellationToken).ConfigureAwait(false);
            return;
        }

        // Even when the graceful stop is cut short (Ctrl+C), the server and the images it opened are released.
        await SessionHost.StopServiceAsync(service, cancellationToken).ConfigureAwait(false);
    };
}
