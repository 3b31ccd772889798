namespace VirtualDevices.PowerShell.Infrastructure;

/// <summary>Completes the names of the servers of the session: xenstore servers for *-Xenstore* commands, loopback hypervisors or joined domains for *-XenLoopback* commands, NBD servers for *-Nbd* commands.</summary>
public sealed class ServerNameCompleter : SessionNameCompleter
{
    /// <inheritdoc/>
    protected override IEnumerable<(string Name, string Description)> Candidates(string commandName, DeviceHost host) =>
        commandName.Contains("XenLoopback", StringComparison.OrdinalIgnoreCase)
            ? XenLoopbackNameCompleter.CandidatesFor(commandName, host)
            : commandName.Contains("Xenstore", StringComparison.OrdinalIgnoreCase)
            ? host.GetServices<XenstoreServerService>().Select(s => (s.Name, s.Service.Server.SocketPath ?? "in-process"))
            : host.GetServices<NbdServerService>().Select(s => (s.Name, s.Service.Server.UnixSocketPath ?? s.Service.Server.TcpEndPoint?.ToString() ?? "nbd"));
}
