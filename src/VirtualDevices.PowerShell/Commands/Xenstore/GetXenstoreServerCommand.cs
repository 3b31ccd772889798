using System.Management.Automation;
using VirtualDevices.Hosting;
using VirtualDevices.PowerShell.Infrastructure;
using VirtualDevices.Xen.Xenstore;
using VirtualDevices.Xen.Xenstore.Server;

namespace VirtualDevices.PowerShell.Commands.Xenstore;

/// <summary>
/// <para type="synopsis">Gets the embedded xenstore servers running in the session.</para>
/// </summary>
[Cmdlet(VerbsCommon.Get, "XenstoreServer", HelpUri = "https://github.com/VirtualDevices/VirtualDevices/blob/main/docs/VirtualDevices/Get-XenstoreServer.md")]
[OutputType(typeof(XenstoreServer))]
public sealed class GetXenstoreServerCommand : PSCmdlet
{
    /// <summary>Names of servers; wildcards are allowed (default: all).</summary>
    [Parameter(Position = 0)]
    [SupportsWildcards]
    [ArgumentCompleter(typeof(ServerNameCompleter))]
    public string[]? Name { get; set; }

    /// <inheritdoc/>
    protected override void ProcessRecord()
    {
        IReadOnlyList<HostedName<XenstoreServerService>> servers = ModuleSession.Current.Host.GetServices<XenstoreServerService>();
        foreach (string pattern in Name ?? ["*"])
        {
            var wildcard = new WildcardPattern(pattern, WildcardOptions.IgnoreCase);
            var matches = servers.Where(s => wildcard.IsMatch(s.Name)).ToList();
            if (matches.Count == 0 && !WildcardPattern.ContainsWildcardCharacters(pattern))
            {
                WriteError(ErrorRecords.FromException(new DeviceException(DeviceErrorIds.Service.NotFound, DeviceErrorCategory.ObjectNotFound, $"No xenstore server named '{pattern}' runs in this session.", pattern), pattern));
            }

            foreach ((string name, XenstoreServerService service) in matches)
            {
                WriteObject(ServerObjects.Named(service.Server, name));
            }
        }
    }
}
