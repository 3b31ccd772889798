namespace VirtualDevices.PowerShell.Commands.Xenstore;

/// <summary>
/// What the xenstore cmdlets that act on existing nodes share: the nodes as paths with wildcards (-Path, which piped
/// items bind by their NodePath) or as written (-LiteralPath), one parameter set each.
/// </summary>
public abstract class XenstorePathCommand : XenstoreCommand
{
    /// <summary>The parameter set of -Path.</summary>
    protected const string PathSet = "Path";

    /// <summary>The parameter set of -LiteralPath.</summary>
    protected const string LiteralPathSet = "LiteralPath";

    /// <summary>The nodes: absolute paths, paths relative to the connection's domain, or Xs: paths; wildcards match existing nodes.</summary>
    [Parameter(Mandatory = true, Position = 0, ParameterSetName = PathSet, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
    [ValidateNotNullOrEmpty]
    [Alias("NodePath")]
    [SupportsWildcards]
    [ArgumentCompleter(typeof(XenstorePathCompleter))]
    public string[] Path { get; set; } = null!;

    /// <summary>The nodes, as written (no wildcards). Piped items bind their NodePath to -Path: node names never contain wildcard characters.</summary>
    [Parameter(Mandatory = true, ParameterSetName = LiteralPathSet, ValueFromPipelineByPropertyName = true)]
    [ValidateNotNullOrEmpty]
    [Alias("LP")]
    [ArgumentCompleter(typeof(XenstorePathCompleter))]
    public string[] LiteralPath { get; set; } = null!;

    /// <summary>
    /// Resolves each path given (of -Path or -LiteralPath) to its store and nodes, and calls
    /// <paramref name="action"/> for each node; a path that fails to resolve is reported as its input's error.
    /// </summary>
    /// <param name="action">What to do with a node: its store and its xenstore path.</param>
    protected void ForEachNode(Action<XenstoreClient, string> action)
    {
        bool literal = ParameterSetName == LiteralPathSet;
        foreach (string item in literal ? LiteralPath : Path)
        {
            if (!TryResolve(item, literal, out XenstoreClient store, out IReadOnlyList<string> nodes))
            {
                continue;
            }

            foreach (string node in nodes)
            {
                action(store, node);
            }
        }
    }
}
