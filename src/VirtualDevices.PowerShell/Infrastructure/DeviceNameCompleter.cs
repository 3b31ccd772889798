using System.Collections;
using System.Management.Automation;
using System.Management.Automation.Language;
using VirtualDevices.Devices;

namespace VirtualDevices.PowerShell.Infrastructure;

/// <summary>Completes the names of the devices open in the session (all of them, or one family).</summary>
public sealed class DeviceNameCompleter : IArgumentCompleter
{
    /// <inheritdoc/>
    public IEnumerable<CompletionResult> CompleteArgument(string commandName, string parameterName, string wordToComplete, CommandAst commandAst, IDictionary fakeBoundParameters)
    {
        string prefix = (wordToComplete ?? string.Empty).Trim('\'', '"');
        DeviceKind? kind = commandName.Contains("Block", StringComparison.OrdinalIgnoreCase) ? DeviceKind.Block
            : commandName.Contains("Network", StringComparison.OrdinalIgnoreCase) ? DeviceKind.Network
            : null;
        foreach (IDevice device in ModuleSession.Current.Devices.Devices)
        {
            if ((kind is null || device.Kind == kind) && device.Name.StartsWith(prefix, StringComparison.OrdinalIgnoreCase))
            {
                yield return new CompletionResult(device.Name, device.Name, CompletionResultType.ParameterValue, $"{device.Name}: {device.Driver} {device.Location}");
            }
        }
    }
}
