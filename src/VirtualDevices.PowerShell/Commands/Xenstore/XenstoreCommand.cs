namespace VirtualDevices.PowerShell.Commands.Xenstore;

/// <summary>What every xenstore cmdlet shares: the -Store parameter, and paths resolved to a store and a node.</summary>
public abstract class XenstoreCommand : AsyncCmdlet
{
    /// <summary>The xenstore connection to use (default: the session's, chosen with Connect-Xenstore); binds the Store property of piped items.</summary>
    [Parameter(ValueFromPipelineByPropertyName = true)]
    [AllowNull]
    public XenstoreClient? Store { get; set; }

    /// <summary>The store for commands that take no path; resolved on the pipeline thread.</summary>
    protected XenstoreClient ResolveStore() => XenstoreSession.Resolve(Session, Store);

    /// <summary>
    /// Resolves a path (a xenstore path, or a path on a Xenstore drive) to its store and node, reporting failures as
    /// this input's error.
    /// </summary>
    /// <param name="path">The path as given.</param>
    /// <param name="store">The store it names.</param>
    /// <param name="node">The xenstore path of the node.</param>
    protected bool TryLocate(string path, out XenstoreClient store, out string node)
    {
        try
        {
            (store, node) = XenstoreSession.Locate(this, Session, path, Store);
            return true;
        }
        catch (Exception e) when (ErrorRecords.IsReportable(e))
        {
            // The engine's own path errors (DriveNotFound, ProviderNotFound, PathNotFound) keep their ids.
            WriteError(ErrorRecords.FromException(e, path));
            store = null!;
            node = path;
            return false;
        }
    }

    /// <summary>
    /// Resolves a path to its store and the nodes it names: with <paramref name="literal"/> false, the wildcards of
    /// the path (<c>*</c>, <c>?</c>, <c>[a-z]</c>; xenstore names cannot contain them) are matched against the
    /// existing nodes, segment by segment, as the Xs: drive matches them; a pattern that matches nothing names no node
    /// and writes no error, as Get-Item does for files. Failures are reported as this input's error.
    /// </summary>
    /// <param name="path">The path as given.</param>
    /// <param name="literal">True for -LiteralPath: the path names one node, as written.</param>
    /// <param name="store">The store it names.</param>
    /// <param name="nodes">The xenstore paths of the nodes.</param>
    protected bool TryResolve(string path, bool literal, out XenstoreClient store, out IReadOnlyList<string> nodes)
    {
        nodes = [];
        if (!TryLocate(path, out store, out string node))
        {
            return false;
        }

        if (literal || !WildcardPattern.ContainsWildcardCharacters(node))
        {
            nodes = [node];
            return true;
        }

        try
        {
            nodes = Expand(store, node);
            return true;
        }
        catch (Exception e) when (ErrorRecords.IsReportable(e))
        {
            WriteError(ErrorRecords.FromException(e, path));
            return false;
        }
    }

    /// <summary>The existing nodes a path with wildcards matches, in order; waits for the store on the pipeline thread, until Ctrl+C.</summary>
    private List<string> Expand(XenstoreClient store, string node)
    {
        const WildcardOptions Options = WildcardOptions.IgnoreCase | WildcardOptions.CultureInvariant;
        string[] segments = node.Split('/', StringSplitOptions.RemoveEmptyEntries);
        if (!node.StartsWith('/') && WildcardPattern.ContainsWildcardCharacters(segments[0]))
        {
            // The home a relative path starts from is the connection's domain's, which only the store knows.
            throw new ArgumentException($"'{node}': wildcards in the first name of a relative path are not supported; give the path from '/'.", nameof(node));
        }

        var matches = new List<string> { node.StartsWith('/') ? "/" : string.Empty };
        foreach (string segment in segments)
        {
            var next = new List<string>();
            bool wildcard = WildcardPattern.ContainsWildcardCharacters(segment);
            WildcardPattern? pattern = wildcard ? WildcardPattern.Get(segment, Options) : null;
            foreach (string parent in matches)
            {
                if (!wildcard)
                {
                    next.Add(Join(parent, segment));
                    continue;
                }

                foreach (string child in List(store, parent).Order(StringComparer.Ordinal))
                {
                    if (pattern!.IsMatch(child))
                    {
                        next.Add(Join(parent, child));
                    }
                }
            }

            matches = next;
        }

        // A literal segment after a wildcard one may name nodes that some matches lack (/local/domain/*/name).
        return matches.Where(m => Wait(store.ExistsAsync(m, StopToken))).ToList();

        static string Join(string parent, string child) => parent.Length == 0 ? child : XenstorePath.Combine(parent, child);
    }

    /// <summary>The children of a node; none when it does not exist or may not be read.</summary>
    private IReadOnlyList<string> List(XenstoreClient store, string parent)
    {
        try
        {
            return Wait(store.ListAsync(parent, StopToken));
        }
        catch (XenstoreException e) when (e.ErrorName is "ENOENT" or "EACCES" or "EPERM")
        {
            return [];
        }
    }

    private T Wait<T>(ValueTask<T> pending)
    {
        try
        {
            return pending.IsCompletedSuccessfully ? pending.Result : pending.AsTask().GetAwaiter().GetResult();
        }
        catch (OperationCanceledException) when (StopToken.IsCancellationRequested)
        {
            throw new PipelineStoppedException();
        }
    }
}
