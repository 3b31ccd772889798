using VirtualDevices.Xen.Xenstore.Protocol;

namespace VirtualDevices.Xen.Xenstore.Server;

/// <summary>
/// An open transaction: a private root (copy-on-write from the live root at start), the paths it read or changed
/// with the generation they had at start, and its changes to replay if the live tree moved meanwhile.
/// </summary>
/// <remarks>
/// What a transaction holds is bounded by the distinct nodes it touched, as in xenstored: rewriting a node it already
/// wrote replaces that write's value in the log instead of adding an entry (60,000 rewrites of one 2,000-byte node
/// held 157 MiB when every rewrite was logged), and an unprivileged domain may touch at most
/// <see cref="XenstoreServerOptions.MaxTransactionNodes"/> nodes.
/// </remarks>
internal sealed class ServerTransaction
{
    /// <summary>For each path, the index in <see cref="Operations"/> of its last WRITE.</summary>
    private readonly Dictionary<string, int> _lastWrite = new(StringComparer.Ordinal);

    /// <summary>The indices in <see cref="Operations"/> of the removals, in order.</summary>
    private readonly List<int> _removals = [];

    internal ServerTransaction(uint id, XenstoreNode snapshot)
    {
        Id = id;
        Snapshot = snapshot;
        Root = snapshot;
    }

    internal uint Id { get; }

    /// <summary>The live root when the transaction started.</summary>
    internal XenstoreNode Snapshot { get; }

    /// <summary>The transaction's own view, changed by its requests.</summary>
    internal XenstoreNode Root { get; set; }

    /// <summary>Paths whose generation at start must still be the live one for the commit to succeed.</summary>
    internal HashSet<string> Touched { get; } = new(StringComparer.Ordinal);

    internal List<ServerTransactionOperation> Operations { get; } = [];

    /// <summary>Change in nodes owned per domain, applied to the live counts on commit.</summary>
    internal Dictionary<int, int> EntryDelta { get; } = [];

    /// <summary>
    /// A request of the transaction was refused for its node quota: the commit fails (with ENOMEM, as xenstored's
    /// does for a transaction marked failed), so a transaction that lost part of its changes is never applied.
    /// </summary>
    internal bool Failed { get; set; }

    /// <summary>Whether a WRITE of <paramref name="path"/> would replace an earlier one's value rather than add to the log.</summary>
    internal bool CanRewriteInPlace(string path) => _lastWrite.TryGetValue(path, out int index) && !RemovedSince(index, path);

    /// <summary>
    /// Logs a change for a merging commit. A WRITE of a path whose last WRITE no later removal (of it or an ancestor)
    /// undid replaces that WRITE's value in place: what the changes in between did does not depend on the value, so
    /// the replay ends the same.
    /// </summary>
    internal void Record(ServerTransactionOperation operation)
    {
        if (operation.Type == XenstoreMessageType.Write && CanRewriteInPlace(operation.Path))
        {
            Operations[_lastWrite[operation.Path]] = operation;
            return;
        }

        Operations.Add(operation);
        if (operation.Type == XenstoreMessageType.Write)
        {
            _lastWrite[operation.Path] = Operations.Count - 1;
        }
        else if (operation.Type == XenstoreMessageType.Remove)
        {
            _removals.Add(Operations.Count - 1);
        }
    }

    private bool RemovedSince(int index, string path)
    {
        for (int i = _removals.Count - 1; i >= 0 && _removals[i] > index; i--)
        {
            string removed = Operations[_removals[i]].Path;
            if (path.StartsWith(removed, StringComparison.Ordinal) && (path.Length == removed.Length || path[removed.Length] == '/'))
            {
                return true;
            }
        }

        return false;
    }
}
