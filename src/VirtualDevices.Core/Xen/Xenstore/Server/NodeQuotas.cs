using System.Text;
using VirtualDevices.Xen.Xenstore.Protocol;

namespace VirtualDevices.Xen.Xenstore.Server;

/// <summary>
/// The per-domain quotas on the tree: entries owned by each domain (live counts here, a transaction's changes in its
/// own delta), and the node quota of an unprivileged transaction (xenstored's <c>transaction-nodes</c>).
/// </summary>
internal sealed class NodeQuotas
{
    private readonly XenstoreServerOptions _options;
    private readonly Dictionary<int, int> _entries = [];

    internal NodeQuotas(XenstoreServerOptions options)
    {
        _options = options;
        _entries[0] = 1;
    }

    internal int EntryCount(int domainId, ServerTransaction? transaction) =>
        _entries.GetValueOrDefault(domainId) + (transaction?.EntryDelta.GetValueOrDefault(domainId) ?? 0);

    internal void AddEntries(int domainId, int delta, ServerTransaction? transaction)
    {
        Dictionary<int, int> counts = transaction?.EntryDelta ?? _entries;
        counts[domainId] = counts.GetValueOrDefault(domainId) + delta;
    }

    internal static void Touch(ServerTransaction? transaction, ReadOnlySpan<byte> absolute)
    {
        transaction?.Touched.Add(Encoding.ASCII.GetString(absolute));
    }

    /// <summary>
    /// Touches a path a read looks at, unless that would take an unprivileged transaction past its node quota
    /// (xenstored's <c>transaction-nodes</c>): then the transaction is marked failed and the caller answers ENOSPC.
    /// </summary>
    internal bool TryTouch(ServerConnection connection, ServerTransaction? transaction, ReadOnlySpan<byte> absolute)
    {
        if (transaction is null)
        {
            return true;
        }

        string path = Encoding.ASCII.GetString(absolute);
        if (!transaction.Touched.Contains(path) && !connection.IsPrivileged && transaction.Touched.Count >= _options.MaxTransactionNodes)
        {
            transaction.Failed = true;
            return false;
        }

        transaction.Touched.Add(path);
        return true;
    }

    /// <summary>
    /// Whether a change fits an unprivileged transaction's node quota: the nodes it would touch (the path; the closest
    /// existing ancestor when it creates; the parent when it removes) that the transaction has not touched yet, and
    /// the entry it would add to the replay log (bounded by the same quota, so that no sequence of changes, not even
    /// a node removed and rewritten over and over, grows the log without bound).
    /// </summary>
    internal bool FitsTransactionQuota(ServerTransaction transaction, XenstoreMessageType type, ReadOnlySpan<byte> absolute)
    {
        string path = Encoding.ASCII.GetString(absolute);
        XenstoreNode? existing = TreeLookup.Lookup(transaction.Root, absolute);
        string? other = type switch
        {
            XenstoreMessageType.Remove => Encoding.ASCII.GetString(absolute[..Math.Max(1, absolute.LastIndexOf((byte)'/'))]),
            XenstoreMessageType.Write or XenstoreMessageType.MakeDirectory when existing is null =>
                Encoding.ASCII.GetString(absolute[..TreeLookup.ClosestExistingAncestorLength(transaction.Root, absolute)]),
            _ => null,
        };
        int added = (transaction.Touched.Contains(path) ? 0 : 1)
            + (other is null || other == path || transaction.Touched.Contains(other) ? 0 : 1);
        bool logs = type switch
        {
            XenstoreMessageType.Write => !transaction.CanRewriteInPlace(path),
            XenstoreMessageType.MakeDirectory => existing is null,
            XenstoreMessageType.Remove => existing is not null,
            _ => true,
        };
        return transaction.Touched.Count + added <= _options.MaxTransactionNodes
            && (!logs || transaction.Operations.Count < _options.MaxTransactionNodes);
    }

}
