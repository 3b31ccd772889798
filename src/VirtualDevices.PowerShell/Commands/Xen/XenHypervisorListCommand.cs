using VirtualDevices.Xen.Loopback;

namespace VirtualDevices.PowerShell.Commands.Xen;

/// <summary>
/// What the listings of a loopback hypervisor share (Get-XenDomain, Get-XenGrant, Get-XenEventChannel): the
/// hypervisors given (objects from the pipeline, or names), or every one the session runs, each listed as it stands,
/// filtered by domain id.
/// </summary>
/// <typeparam name="TRecord">What is listed.</typeparam>
public abstract class XenHypervisorListCommand<TRecord> : PSCmdlet
{
    /// <summary>Only what concerns these domain ids (default: every domain).</summary>
    [Parameter(Position = 0)]
    [ValidateRange(0, LoopbackHypervisor.MaxDomainId)]
    public int[]? DomainId { get; set; }

    /// <summary>The hypervisors to list, as objects or names (default: every hypervisor of the session).</summary>
    [Parameter(ValueFromPipeline = true)]
    [XenLoopbackHypervisorTransformation]
    [ArgumentCompleter(typeof(XenLoopbackNameCompleter))]
    public LoopbackHypervisor[]? Hypervisor { get; set; }

    /// <summary>The records of one hypervisor, in its order.</summary>
    /// <param name="hypervisor">The hypervisor.</param>
    protected abstract IEnumerable<TRecord> List(LoopbackHypervisor hypervisor);

    /// <summary>Whether a record concerns domain <paramref name="domainId"/>.</summary>
    /// <param name="record">The record.</param>
    /// <param name="domainId">The domain id.</param>
    protected abstract bool Concerns(TRecord record, ushort domainId);

    /// <inheritdoc/>
    protected override void ProcessRecord()
    {
        IEnumerable<LoopbackHypervisor> hypervisors = Hypervisor ?? ModuleSession.Current.Host.GetServices<LoopbackHypervisor>().Select(s => s.Service);
        foreach (LoopbackHypervisor hypervisor in hypervisors)
        {
            if (UnknownServers.Report(this, hypervisor))
            {
                continue;
            }

            foreach (TRecord record in List(hypervisor))
            {
                if (DomainId is null || DomainId.Any(id => Concerns(record, (ushort)id)))
                {
                    WriteObject(record);
                }
            }
        }
    }
}
