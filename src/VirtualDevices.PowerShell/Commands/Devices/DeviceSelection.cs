using System.Management.Automation;
using VirtualDevices.Devices;
using VirtualDevices.PowerShell.Infrastructure;

namespace VirtualDevices.PowerShell.Commands.Devices;

/// <summary>Picks devices of the session by name patterns and kind, reporting names that match nothing.</summary>
internal static class DeviceSelection
{
    public static IReadOnlyList<IDevice> ByName(DeviceRegistry registry, string[]? patterns, DeviceKind? kind, Action<ErrorRecord> writeError)
    {
        IDevice[] devices = registry.Devices.Where(d => kind is null || d.Kind == kind).ToArray();
        var selected = new List<IDevice>();
        foreach (string pattern in patterns ?? ["*"])
        {
            var wildcard = new WildcardPattern(pattern, WildcardOptions.IgnoreCase);
            IDevice[] matches = devices.Where(d => wildcard.IsMatch(d.Name)).ToArray();
            if (matches.Length == 0 && !WildcardPattern.ContainsWildcardCharacters(pattern))
            {
                writeError(ErrorRecords.FromException(new DeviceNotFoundException(pattern), pattern));
            }

            selected.AddRange(matches.Where(m => !selected.Contains(m)));
        }

        return selected;
    }
}
