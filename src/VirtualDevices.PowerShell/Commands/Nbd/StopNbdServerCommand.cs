using System.Management.Automation;
using VirtualDevices.Hosting;
using VirtualDevices.Nbd.Server;
using VirtualDevices.PowerShell.Infrastructure;

namespace VirtualDevices.PowerShell.Commands.Nbd;

/// <summary>
/// <para type="synopsis">Stops NBD servers: no new clients, connected clients disconnected after their requests complete.</para>
/// </summary>
[Cmdlet(VerbsLifecycle.Stop, "NbdServer", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium, HelpUri = "https://github.com/VirtualDevices/VirtualDevices/blob/main/docs/VirtualDevices/Stop-NbdServer.md")]
[OutputType(typeof(void))]
public sealed class StopNbdServerCommand : AsyncCmdlet
{
    /// <summary>The servers to stop, as objects or names.</summary>
    [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true)]
    [NbdServerTransformation]
    [ArgumentCompleter(typeof(ServerNameCompleter))]
    public NbdServer[] Server { get; set; } = null!;

    /// <inheritdoc/>
    protected override void ProcessRecord()
    {
        foreach (NbdServer server in Server)
        {
            if (UnknownServers.Report(this, server))
            {
                continue;
            }

            HostedName<NbdServerService> entry = SessionHost.GetServices<NbdServerService>().FirstOrDefault(s => ReferenceEquals(s.Service.Server, server));
            string name = entry.Name ?? "nbd-server";
            if (!ShouldProcess(name, "Stop the NBD server"))
            {
                continue;
            }

            Run(async cancellationToken =>
            {
                if (entry.Service is null)
                {
                    // A server made outside the session (a core object passed in): stopped, not owned.
                    await server.StopAsync(cancellationToken).ConfigureAwait(false);
                    return;
                }

                // Even when the graceful stop is cut short (Ctrl+C), the server and the images it opened are released.
                await SessionHost.StopServiceAsync(entry.Service, cancellationToken).ConfigureAwait(false);
            }, name);
        }
    }
}
