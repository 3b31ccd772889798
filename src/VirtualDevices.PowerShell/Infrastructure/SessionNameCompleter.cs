using System.Collections;
using System.Management.Automation.Language;

namespace VirtualDevices.PowerShell.Infrastructure;

/// <summary>
/// Completes the names of things the session's host has named (devices, servers, other services): the candidates
/// whose name starts with what was typed, quotes ignored, each with a tooltip describing it.
/// </summary>
public abstract class SessionNameCompleter : IArgumentCompleter
{
    /// <inheritdoc/>
    public IEnumerable<CompletionResult> CompleteArgument(string commandName, string parameterName, string wordToComplete, CommandAst commandAst, IDictionary fakeBoundParameters)
    {
        string prefix = (wordToComplete ?? string.Empty).Trim('\'', '"');
        foreach ((string name, string description) in Candidates(commandName, ModuleSession.Current.Host))
        {
            if (name.StartsWith(prefix, StringComparison.OrdinalIgnoreCase))
            {
                yield return new CompletionResult(name, name, CompletionResultType.ParameterValue, $"{name}: {description}");
            }
        }
    }

    /// <summary>The names a command's parameter takes, with a description of each.</summary>
    /// <param name="commandName">The command being completed (a completer may serve several).</param>
    /// <param name="host">The session's host.</param>
    protected abstract IEnumerable<(string Name, string Description)> Candidates(string commandName, DeviceHost host);
}
