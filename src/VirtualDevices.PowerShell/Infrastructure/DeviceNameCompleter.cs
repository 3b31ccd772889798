using System.Collections;
using System.Management.Automation.Language;

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
        // Disconnect-NbdDevice takes NBD devices only (it refuses the others), so it offers only those; Start-NbdServer
        // and Connect-NbdDevice serve or name any block device.
        bool nbdOnly = string.Equals(commandName, "Disconnect-NbdDevice", StringComparison.OrdinalIgnoreCase);
        foreach (IDevice device in ModuleSession.Current.Host.Devices)
        {
            if (nbdOnly && device is not VirtualDevices.Nbd.Client.NbdBlockDevice)
            {
                continue;
            }

            if ((kind is null || device.Kind == kind) && device.Name.StartsWith(prefix, StringComparison.OrdinalIgnoreCase))
            {
                yield return new CompletionResult(device.Name, device.Name, CompletionResultType.ParameterValue, $"{device.Name}: {device.Driver} {device.Location}");
            }
        }
    }
}
