namespace VirtualDevices.PowerShell.Commands.Block;

/// <summary>
/// What the block cmdlets that take existing devices share: the device as an image path (-Path, with wildcards),
/// a literal path (-LiteralPath, which piped files bind), or a device of the session (-Device), one parameter set each.
/// </summary>
public abstract class BlockTargetCommand : AsyncCmdlet
{
    /// <summary>The parameter set of -Path.</summary>
    protected const string PathSet = "Path";

    /// <summary>The parameter set of -Device.</summary>
    protected const string DeviceSet = "Device";

    /// <summary>The parameter set of -LiteralPath.</summary>
    protected const string LiteralPathSet = "LiteralPath";

    /// <summary>
    /// Disk images or block-special files (opened for this command alone); wildcards are allowed. A name
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
}
