using VirtualDevices.Xen.Loopback;

namespace VirtualDevices.PowerShell.Commands.Xen;

/// <summary>
/// <para type="synopsis">Leaves a loopback hypervisor: the session's joined domain ends its grants and closes its channels, and the other domains are told.</para>
/// </summary>
/// <remarks>
/// Names bind through their own parameter set rather than a transformation: a joined domain cannot be made as a
/// placeholder for an unknown name (it exists only by joining), so an unknown name is reported here, non-terminating.
/// </remarks>
[Cmdlet(VerbsCommunications.Disconnect, "XenLoopbackDomain", DefaultParameterSetName = DomainSet, SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium, HelpUri = "https://github.com/VirtualDevices/VirtualDevices/blob/main/docs/VirtualDevices/Disconnect-XenLoopbackDomain.md")]
[OutputType(typeof(void))]
public sealed class DisconnectXenLoopbackDomainCommand : AsyncCmdlet
{
    private const string DomainSet = "Domain";
    private const string NameSet = "Name";

    /// <summary>The joined domains to leave with, as Join-XenLoopbackHypervisor wrote them.</summary>
    [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true, ParameterSetName = DomainSet)]
    public LoopbackDomain[] Domain { get; set; } = null!;

    /// <summary>The session's names of the joined domains.</summary>
    [Parameter(Mandatory = true, ValueFromPipeline = true, ParameterSetName = NameSet)]
    [ArgumentCompleter(typeof(XenLoopbackNameCompleter))]
    public string[] Name { get; set; } = null!;

    /// <inheritdoc/>
    protected override void ProcessRecord()
    {
        IReadOnlyList<HostedName<LoopbackDomain>> joined = SessionHost.GetServices<LoopbackDomain>();
        IEnumerable<(string Name, LoopbackDomain Domain)> targets = ParameterSetName == DomainSet
            ? Domain.Select(d => (joined.FirstOrDefault(j => ReferenceEquals(j.Service, d)).Name ?? $"domain {d.DomainId} of {d.Source}", d))
            : Name.Select(n => (n, joined.FirstOrDefault(j => string.Equals(j.Name, n, StringComparison.OrdinalIgnoreCase)).Service));
        foreach ((string name, LoopbackDomain? domain) in targets)
        {
            if (domain is null)
            {
                WriteError(ErrorRecords.FromException(new DeviceException(DeviceErrorIds.XenLoopback.DomainNotJoined, DeviceErrorCategory.ObjectNotFound,
                    $"No joined loopback domain named '{name}' is open in this session. Get-XenLoopbackDomain lists them.", name), name));
                continue;
            }

            if (!ShouldProcess(name, "Leave the loopback hypervisor (this domain's grants end, its channels close)"))
            {
                continue;
            }

            // A domain joined outside the session (a core object passed in) is left all the same.
            Run(cancellationToken => SessionHost.StopServiceAsync(domain, cancellationToken), name);
        }
    }
}
