namespace VirtualDevices.PowerShell.Commands.Block;

/// <summary>
/// What the cmdlets that read a range of a device share: the device (-Path, -LiteralPath, -Device, or -Uri for an
/// NBD export) and the range in sectors (-Sector, -Count).
/// </summary>
public abstract class BlockRangeCommand : BlockTargetCommand
{
    /// <summary>The parameter set of -Uri.</summary>
    protected const string UriSet = "Uri";

    /// <summary>An NBD URI (nbd://host/export, nbd+unix:///export?socket=...) to connect to for this command alone.</summary>
    [Parameter(Mandatory = true, ParameterSetName = UriSet)]
    [ValidateNotNullOrEmpty]
    public string Uri { get; set; } = null!;

    /// <summary>The first sector (default 0).</summary>
    [Parameter]
    [ValidateRange(0, long.MaxValue)]
    public long Sector { get; set; }

    /// <summary>The number of sectors (default: to the end of the device).</summary>
    [Parameter]
    [ValidateRange(0, long.MaxValue)]
    public long Count { get; set; }

    /// <summary>The devices the parameter set names, bound on the pipeline thread (wildcards resolved here).</summary>
    private protected IEnumerable<BlockTarget> BindTargets() => BlockTargets.Bind(this, ParameterSetName, Path, LiteralPath, Device, Uri);

    /// <summary>The value of a parameter if the caller gave it, else null.</summary>
    /// <param name="name">The parameter's name.</param>
    /// <param name="value">Its value.</param>
    protected long? Bound(string name, long value) => MyInvocation.BoundParameters.ContainsKey(name) ? value : null;
}
