using System.Management.Automation;
using VirtualDevices.Hosting;
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

            HostedName<XenstoreServerService> entry = SessionHost.GetServices<XenstoreServerService>().FirstOrDefault(s => ReferenceEquals(s.Service.Server, server));
            string name = entry.Name ?? server.SocketPath ?? "xenstore";
            if (!ShouldProcess(name, "Stop the xenstore server (its contents are lost)"))
            {
                continue;
            }

            // A server made outside the session (a core object passed in) is stopped all the same, with the session's connections to it.
            XenstoreServerService service = entry.Service ?? new XenstoreServerService(server, Session.Xenstore);
            Run(async cancellationToken => await SessionHost.StopServiceAsync(service, cancellationToken).ConfigureAwait(false), name);
        }
    }
}
