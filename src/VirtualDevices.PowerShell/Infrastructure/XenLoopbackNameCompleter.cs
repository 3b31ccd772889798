using VirtualDevices.Xen.Loopback;

namespace VirtualDevices.PowerShell.Infrastructure;

/// <summary>Completes the names of the session's loopback hypervisors, or of its joined domains for *-XenLoopbackDomain commands.</summary>
public sealed class XenLoopbackNameCompleter : SessionNameCompleter
{
    /// <inheritdoc/>
    protected override IEnumerable<(string Name, string Description)> Candidates(string commandName, DeviceHost host) => CandidatesFor(commandName, host);

    /// <summary>The candidates for <paramref name="commandName"/> (also what the shared Get-*Server -Name completer offers for these commands).</summary>
    /// <param name="commandName">The command being completed.</param>
    /// <param name="host">The session's host.</param>
    internal static IEnumerable<(string Name, string Description)> CandidatesFor(string commandName, DeviceHost host) =>
        commandName.EndsWith("XenLoopbackDomain", StringComparison.OrdinalIgnoreCase)
            ? host.GetServices<LoopbackDomain>().Select(s => (s.Name, $"domain {s.Service.DomainId} of {s.Service.Source}"))
            : host.GetServices<LoopbackHypervisor>().Select(s => (s.Name, s.Service.SocketPath ?? "in-process"));
}
