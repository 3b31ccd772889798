namespace VirtualDevices.PowerShell.Commands;

/// <summary>
/// What the Stop-*Server cmdlets share: each server given (unknown names reported as their family's not-found
/// error), named as the session knows it, confirmed with ShouldProcess, then stopped in the background.
/// </summary>
/// <typeparam name="TServer">The family's server.</typeparam>
/// <typeparam name="TService">The hosted service that runs it in a session.</typeparam>
public abstract class StopServerCommand<TServer, TService> : AsyncCmdlet
    where TServer : class
    where TService : class, IHostedService
{
    /// <summary>The servers to stop (the family's -Server parameter, which carries its own transformation).</summary>
    protected abstract IEnumerable<TServer> Servers { get; }

    /// <summary>The ShouldProcess action ("Stop the NBD server").</summary>
    protected abstract string Action { get; }

    /// <summary>The server a service runs.</summary>
    /// <param name="service">The service.</param>
    protected abstract TServer ServerOf(TService service);

    /// <summary>The name shown for a server the session does not host.</summary>
    /// <param name="server">The server.</param>
    protected abstract string NameOutsideSession(TServer server);

    /// <summary>The work that stops <paramref name="server"/>; called on the pipeline thread.</summary>
    /// <param name="server">The server.</param>
    /// <param name="service">The session's service that runs it, or null for a server made outside the session.</param>
    protected abstract Func<CancellationToken, Task> Stop(TServer server, TService? service);

    /// <inheritdoc/>
    protected override void ProcessRecord()
    {
        foreach (TServer server in Servers)
        {
            if (UnknownServers.Report(this, server))
            {
                continue;
            }

            HostedName<TService> entry = SessionHost.GetServices<TService>().FirstOrDefault(s => ReferenceEquals(ServerOf(s.Service), server));
            string name = entry.Name ?? NameOutsideSession(server);
            if (!ShouldProcess(name, Action))
            {
                continue;
            }

            Run(Stop(server, entry.Service), name);
        }
    }
}
