using VirtualDevices.Network.Switch;

namespace VirtualDevices.PowerShell.Commands.Network;

/// <summary>
/// <para type="synopsis">Gets the software switches of the session, their ports (with counters) or their learned addresses.</para>
/// </summary>
[Cmdlet(VerbsCommon.Get, "NetworkSwitch", DefaultParameterSetName = SwitchSet, HelpUri = "https://github.com/VirtualDevices/VirtualDevices/blob/main/docs/VirtualDevices/Get-NetworkSwitch.md")]
[OutputType(typeof(NetworkSwitch), ParameterSetName = [SwitchSet])]
[OutputType(typeof(SwitchPort), ParameterSetName = [PortSet])]
[OutputType(typeof(MacTableEntry), ParameterSetName = [AddressSet])]
public sealed class GetNetworkSwitchCommand : PSCmdlet
{
    private const string SwitchSet = "Switch";
    private const string PortSet = "Port";
    private const string AddressSet = "Address";

    /// <summary>Names of switches; wildcards are allowed (default: all).</summary>
    [Parameter(Position = 0)]
    [SupportsWildcards]
    public string[]? Name { get; set; }

    /// <summary>Write the switches' ports, with their counters, instead of the switches.</summary>
    [Parameter(Mandatory = true, ParameterSetName = PortSet)]
    public SwitchParameter Port { get; set; }

    /// <summary>Write the switches' learned addresses (MAC, VLAN, port, age) instead of the switches.</summary>
    [Parameter(Mandatory = true, ParameterSetName = AddressSet)]
    public SwitchParameter AddressTable { get; set; }

    /// <inheritdoc/>
    protected override void ProcessRecord()
    {
        IReadOnlyList<HostedName<NetworkSwitch>> switches = ModuleSession.Current.Host.GetServices<NetworkSwitch>();
        foreach (string pattern in Name ?? ["*"])
        {
            var wildcard = new WildcardPattern(pattern, WildcardOptions.IgnoreCase);
            var matches = switches.Where(s => wildcard.IsMatch(s.Name)).ToList();
            if (matches.Count == 0 && !WildcardPattern.ContainsWildcardCharacters(pattern))
            {
                WriteError(ErrorRecords.FromException(new DeviceException(DeviceErrorIds.Network.SwitchNotFound, DeviceErrorCategory.ObjectNotFound,
                    $"No switch named '{pattern}' runs in this session.", pattern), pattern));
            }

            foreach ((_, NetworkSwitch sw) in matches)
            {
                if (Port)
                {
                    WriteObject(sw.Ports, enumerateCollection: true);
                }
                else if (AddressTable)
                {
                    WriteObject(sw.GetAddressTable(), enumerateCollection: true);
                }
                else
                {
                    WriteObject(sw);
                }
            }
        }
    }
}
