using System.Management.Automation;
using VirtualDevices.PowerShell.Infrastructure;
using VirtualDevices.Xen.Xenstore;
using VirtualDevices.Xen.Xenstore.Client;
using VirtualDevices.Xen.Xenstore.Server;

namespace VirtualDevices.PowerShell.Commands.Xenstore;

/// <summary>
/// <para type="synopsis">Stops embedded xenstore servers: their clients are disconnected and their contents discarded.</para>
/// </summary>
[Cmdlet(VerbsLifecycle.Stop, "XenstoreServer", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium, HelpUri = "https://github.com/VirtualDevices/VirtualDevices/blob/main/docs/VirtualDevices/Stop-XenstoreServer.md")]
[OutputType(typeof(void))]
public sealed class StopXenstoreServerCommand : AsyncCmdlet
{
    /// <summary>The servers to stop, as objects or names.</summary>
    [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true)]
    [XenstoreServerTransformation]
    [ArgumentCompleter(typeof(ServerNameCompleter))]
    public XenstoreServer[] Server { get; set; } = null!;

    /// <inheritdoc/>
    protected override void ProcessRecord()
    {
        foreach (XenstoreServer server in Server)
        {
            if (UnknownServers.Report(this, server))
            {
                continue;
            }

            string name = Session.Services.NameOf(server) ?? server.SocketPath ?? "xenstore";
            if (!ShouldProcess(name, "Stop the xenstore server (its contents are lost)"))
            {
                continue;
            }

            Run(async cancellationToken =>
            {
                Session.Services.Remove(server);
                // The session's connections to this server end with it, instead of trying to reconnect for ever.
                foreach (XenstoreClient client in Session.XenstoreClientsOf(server, server.SocketPath))
                {
                    Session.RemoveXenstore(client);
                    await client.DisposeAsync().ConfigureAwait(false);
                }

                // The server stops at once; what follows waits for its connections' threads (up to 5 s each), a wait
                // that Ctrl+C ends.
                await server.DisposeAsync().AsTask().WaitAsync(cancellationToken).ConfigureAwait(false);
            }, name);
        }
    }
}
