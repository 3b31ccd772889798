using System.Management.Automation;
using VirtualDevices.Block;
using VirtualDevices.PowerShell.Infrastructure;

namespace VirtualDevices.PowerShell.Commands.Block;

/// <summary>
/// What the cmdlets that read a range of a device share: the device (-Path, -Device or -Uri, one parameter set each)
/// and the range in sectors (-Sector, -Count).
/// </summary>
public abstract class BlockRangeCommand : AsyncCmdlet
{
    /// <summary>The parameter set of -Path.</summary>
    protected const string PathSet = "Path";

    /// <summary>The parameter set of -Device.</summary>
    protected const string DeviceSet = "Device";

    /// <summary>The parameter set of -Uri.</summary>
    protected const string UriSet = "Uri";

    /// <summary>The parameter set of -LiteralPath.</summary>
    protected const string LiteralPathSet = "LiteralPath";

    /// <summary>
    /// Disk images or block-special files (opened read-only for this command alone); wildcards are allowed. A name
    /// that is no file but a device of the session means that device.
    /// </summary>
    [Parameter(Mandatory = true, Position = 0, ParameterSetName = PathSet, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
    [SupportsWildcards]
    [ValidateNotNullOrEmpty]
    public string[] Path { get; set; } = null!;

    /// <summary>Disk images or block-special files, taken as written (no wildcards); binds the PSPath of piped files.</summary>
    [Parameter(Mandatory = true, ParameterSetName = LiteralPathSet, ValueFromPipelineByPropertyName = true)]
    [Alias("PSPath", "LP", "FullName")]
    [ValidateNotNullOrEmpty]
    public string[] LiteralPath { get; set; } = null!;

    /// <summary>Devices open in the session, or their names; binds piped devices.</summary>
    [Parameter(Mandatory = true, Position = 0, ParameterSetName = DeviceSet, ValueFromPipeline = true)]
    [DeviceTransformation]
    [ArgumentCompleter(typeof(DeviceNameCompleter))]
    public IBlockDevice[] Device { get; set; } = null!;

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
