using System.Collections;
using System.Management.Automation.Language;

namespace VirtualDevices.PowerShell.Infrastructure;

/// <summary>Completes the names of the servers of the session: xenstore servers for *-Xenstore* commands, NBD servers for *-Nbd* commands.</summary>
public sealed class ServerNameCompleter : IArgumentCompleter
{
    /// <inheritdoc/>
    public IEnumerable<CompletionResult> CompleteArgument(string commandName, string parameterName, string wordToComplete, CommandAst commandAst, IDictionary fakeBoundParameters)
    {
        string prefix = (wordToComplete ?? string.Empty).Trim('\'', '"');
        DeviceHost host = ModuleSession.Current.Host;
        IEnumerable<(string Name, string Description)> servers = commandName.Contains("Xenstore", StringComparison.OrdinalIgnoreCase)
            ? host.GetServices<XenstoreServerService>().Select(s => (s.Name, s.Service.Server.SocketPath ?? "in-process"))
            : host.GetServices<NbdServerService>().Select(s => (s.Name, s.Service.Server.UnixSocketPath ?? s.Service.Server.TcpEndPoint?.ToString() ?? "nbd"));
        foreach ((string name, string description) in servers)
        {
            if (name.StartsWith(prefix, StringComparison.OrdinalIgnoreCase))
            {
                yield return new CompletionResult(name, name, CompletionResultType.ParameterValue, $"{name}: {description}");
            }
        }
    }
}
