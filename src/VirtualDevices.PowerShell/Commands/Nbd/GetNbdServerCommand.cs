using System.Management.Automation;
using VirtualDevices.Hosting;
using VirtualDevices.Nbd.Server;
using VirtualDevices.PowerShell.Infrastructure;

namespace VirtualDevices.PowerShell.Commands.Nbd;

/// <summary>
/// <para type="synopsis">Gets the NBD servers running in the session, with their exports and endpoints.</para>
/// </summary>
[Cmdlet(VerbsCommon.Get, "NbdServer", HelpUri = "https://github.com/VirtualDevices/VirtualDevices/blob/main/docs/VirtualDevices/Get-NbdServer.md")]
[OutputType(typeof(NbdServer))]
public sealed class GetNbdServerCommand : PSCmdlet
{
    /// <summary>Names of servers; wildcards are allowed (default: all).</summary>
    [Parameter(Position = 0)]
    [SupportsWildcards]
    [ArgumentCompleter(typeof(ServerNameCompleter))]
    public string[]? Name { get; set; }

    /// <inheritdoc/>
    protected override void ProcessRecord()
    {
        IReadOnlyList<HostedName<NbdServerService>> servers = ModuleSession.Current.Host.GetServices<NbdServerService>();
        foreach (string pattern in Name ?? ["*"])
        {
            var wildcard = new WildcardPattern(pattern, WildcardOptions.IgnoreCase);
            var matches = servers.Where(s => wildcard.IsMatch(s.Name)).ToList();
            if (matches.Count == 0 && !WildcardPattern.ContainsWildcardCharacters(pattern))
            {
                WriteError(ErrorRecords.FromException(new DeviceException(DeviceErrorIds.Service.NotFound, DeviceErrorCategory.ObjectNotFound, $"No NBD server named '{pattern}' runs in this session.", pattern), pattern));
            }

            foreach ((string name, NbdServerService service) in matches)
            {
                WriteObject(ServerObjects.Named(service.Server, name));
            }
        }
    }
}
