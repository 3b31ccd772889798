namespace VirtualDevices.Xen.Xenstore;

/// <summary>
/// An open transaction: a private root (copy-on-write from the live root at start), the paths it read or changed
/// with the generation they had at start, and its changes to replay if the live tree moved meanwhile.
/// </summary>
internal sealed class ServerTransaction
{
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
}
