using VirtualDevices.Xen.Loopback;

namespace VirtualDevices.PowerShell.Commands.Xen;

/// <summary>
/// <para type="synopsis">Joins a loopback hypervisor as a domain from this session: one running in another session or process (by its control socket), or one of this session.</para>
/// </summary>
[Cmdlet(VerbsCommon.Join, "XenLoopbackHypervisor", DefaultParameterSetName = SocketSet, HelpUri = "https://github.com/VirtualDevices/VirtualDevices/blob/main/docs/VirtualDevices/Join-XenLoopbackHypervisor.md")]
[OutputType(typeof(LoopbackDomain))]
public sealed class JoinXenLoopbackHypervisorCommand : AsyncCmdlet
{
    private const string SocketSet = "SocketPath";
    private const string HypervisorSet = "Hypervisor";

    /// <summary>The hypervisor's control socket.</summary>
    [Parameter(Mandatory = true, Position = 0, ParameterSetName = SocketSet)]
    [ValidateNotNullOrEmpty]
    public string SocketPath { get; set; } = null!;

    /// <summary>A hypervisor of this session, as an object or a name.</summary>
    [Parameter(Mandatory = true, ValueFromPipeline = true, ParameterSetName = HypervisorSet)]
    [XenLoopbackHypervisorTransformation]
    [ArgumentCompleter(typeof(XenLoopbackNameCompleter))]
    public LoopbackHypervisor Hypervisor { get; set; } = null!;

    /// <summary>The domain id to ask for (0 for dom0; default the lowest free id from 1).</summary>
    [Parameter]
    [ValidateRange(0, LoopbackHypervisor.MaxDomainId)]
    public int? DomainId { get; set; }

    /// <summary>The joined domain's name in the session (default xen-joinN).</summary>
    [Parameter]
    [ValidateHostName]
    public string? Name { get; set; }

    /// <inheritdoc/>
    protected override void ProcessRecord()
    {
        if (ParameterSetName == HypervisorSet && UnknownServers.Report(this, Hypervisor))
        {
            return;
        }

        ushort? domainId = DomainId is int id ? (ushort)id : null;
        string socketPath = ParameterSetName == SocketSet ? GetUnresolvedProviderPathFromPSPath(SocketPath) : string.Empty;
        LoopbackHypervisor? hypervisor = ParameterSetName == HypervisorSet ? Hypervisor : null;
        Run(async cancellationToken =>
        {
            LoopbackDomain domain = hypervisor is null
                ? await LoopbackDomain.JoinAsync(SessionHost, Name, socketPath, domainId, cancellationToken).ConfigureAwait(false)
                : await LoopbackDomain.JoinAsync(SessionHost, Name, hypervisor, domainId, cancellationToken).ConfigureAwait(false);
            Emit(ServerObjects.Named(domain, SessionHost.NameOf(domain) ?? LoopbackDomain.DefaultPrefix));
        }, hypervisor is null ? socketPath : SessionHost.NameOf(hypervisor));
    }
}
