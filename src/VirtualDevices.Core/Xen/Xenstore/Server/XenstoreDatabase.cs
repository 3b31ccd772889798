using System.Text;
using VirtualDevices.Xen.Xenstore.Protocol;

namespace VirtualDevices.Xen.Xenstore.Server;

/// <summary>
/// The embedded server's database and request handling: the node tree, permissions, quotas, transactions, watches
/// and domains. Every request runs under one lock (<see cref="Sync"/>): a request takes microseconds, xenstore
/// traffic is small, and one lock makes every request atomic, as xenstored's single thread does.
/// </summary>
internal sealed class XenstoreDatabase
{
    private static readonly byte[] Ok = "OK\0"u8.ToArray();
    private static readonly byte[] True = "T\0"u8.ToArray();
    private static readonly byte[] False = "F\0"u8.ToArray();
    private static readonly byte[] IntroduceDomainPath = Encoding.ASCII.GetBytes(XenstorePath.IntroduceDomain);
    private static readonly byte[] ReleaseDomainPath = Encoding.ASCII.GetBytes(XenstorePath.ReleaseDomain);
    private static readonly byte[] ControlHelp = "check\nprint <string>\nhelp\n\0"u8.ToArray();

    private readonly XenstoreServerOptions _options;
    private readonly Dictionary<int, int> _entries = [];
    private readonly List<ServerWatch> _watches = [];
    private readonly List<ServerConnection> _connections = [];
    private readonly Dictionary<int, int> _introduced = [];
    private readonly Dictionary<int, int> _targets = [];
    private readonly EditContext _edit = new();
    private XenstoreNode _root;
    private long _generation;
    private ServerConnection? _current;

    internal XenstoreDatabase(XenstoreServerOptions options)
    {
        _options = options;
        _root = new XenstoreNode([], [], XenstorePermissions.Default, XenstoreNode.NoChildren, 0);
        _entries[0] = 1;
    }

    /// <summary>The lock every request and every domain change holds.</summary>
    internal object Sync { get; } = new();

    /// <summary>The error names the protocol carries, nul-terminated, by <see cref="StoreError"/>.</summary>
    private static readonly byte[][] ErrorNames =
    [
        [], .. new[] { "EINVAL", "EACCES", "EEXIST", "ENOENT", "ENOSPC", "EAGAIN", "E2BIG", "EPERM", "ENOSYS", "EISCONN", "ENOMEM" }
            .Select(name => Encoding.ASCII.GetBytes(name + "\0")),
    ];

    private enum StoreError
    {
        None,
        EINVAL,
        EACCES,
        EEXIST,
        ENOENT,
        ENOSPC,
        EAGAIN,
        E2BIG,
        EPERM,
        ENOSYS,
        EISCONN,
        ENOMEM,
    }

    /// <summary>Per-request scratch state of the tree edits (the store is single-threaded under <see cref="Sync"/>).</summary>
    private sealed class EditContext
    {
        public ServerConnection Connection = null!;
        public ServerTransaction? Transaction;
        public int CreatedUnderLength = -1;
        public bool Changed;
        public XenstoreNode? Removed;

        public void Reset(ServerConnection connection, ServerTransaction? transaction)
        {
            Connection = connection;
            Transaction = transaction;
            CreatedUnderLength = -1;
            Changed = false;
            Removed = null;
        }
    }

    internal int ConnectionCount
    {
        get
        {
            lock (Sync)
            {
                return _connections.Count;
            }
        }
    }

    internal void Register(ServerConnection connection)
    {
        lock (Sync)
        {
            _connections.Add(connection);
        }
    }

    /// <summary>Forgets a closed connection with its watches and transactions.</summary>
    internal void Unregister(ServerConnection connection)
    {
        lock (Sync)
        {
            _connections.Remove(connection);
            ForgetWatches(connection);
            connection.Transactions.Clear();
        }
    }

    internal List<ServerConnection> SnapshotConnections()
    {
        lock (Sync)
        {
            return [.. _connections];
        }
    }

    // ---------------------------------------------------------------- domains

    internal bool IsDomainIntroduced(int domainId)
    {
        lock (Sync)
        {
            return domainId == 0 || _introduced.ContainsKey(domainId);
        }
    }

    /// <summary>Marks a domain introduced and fires <c>@introduceDomain</c>; false if it already was.</summary>
    internal bool IntroduceDomain(int domainId)
    {
        lock (Sync)
        {
            if (domainId == 0 || !_introduced.TryAdd(domainId, domainId))
            {
                return false;
            }

            FireSpecial(IntroduceDomainPath);
            return true;
        }
    }

    /// <summary>Forgets a domain, closes its connections and fires <c>@releaseDomain</c>; false if it was not introduced.</summary>
    internal bool ReleaseDomain(int domainId)
    {
        lock (Sync)
        {
            if (!_introduced.Remove(domainId))
            {
                return false;
            }

            _targets.Remove(domainId);
            foreach (ServerConnection connection in _connections)
            {
                if (connection.DomainId == domainId)
                {
                    connection.Close();
                }
            }

            FireSpecial(ReleaseDomainPath);
            return true;
        }
    }

    // ---------------------------------------------------------------- request dispatch

    /// <summary>Answers one request. Anything the request gets wrong becomes an error reply.</summary>
    internal void Process(ServerConnection connection, in XenstoreMessageHeader header, ReadOnlySpan<byte> payload)
    {
        lock (Sync)
        {
            _current = connection;
            try
            {
                StoreError error = Dispatch(connection, header, payload);
                if (error != StoreError.None)
                {
                    connection.AppendError(header, ErrorNames[(int)error]);
                }
            }
            finally
            {
                _current = null;
            }
        }
    }

    private StoreError Dispatch(ServerConnection connection, in XenstoreMessageHeader header, ReadOnlySpan<byte> payload)
    {
        ServerTransaction? transaction = null;
        if (header.TransactionId != 0 && UsesTransaction(header.Type)
            && !connection.Transactions.TryGetValue(header.TransactionId, out transaction))
        {
            return StoreError.ENOENT;
        }

        return header.Type switch
        {
            XenstoreMessageType.Read => Read(connection, header, transaction, payload),
            XenstoreMessageType.Write => Write(connection, header, transaction, payload),
            XenstoreMessageType.MakeDirectory => MakeDirectory(connection, header, transaction, payload),
            XenstoreMessageType.Remove => Remove(connection, header, transaction, payload),
            XenstoreMessageType.Directory => Directory(connection, header, transaction, payload),
            XenstoreMessageType.DirectoryPart => DirectoryPart(connection, header, transaction, payload),
            XenstoreMessageType.GetPermissions => GetPermissions(connection, header, transaction, payload),
            XenstoreMessageType.SetPermissions => SetPermissions(connection, header, transaction, payload),
            XenstoreMessageType.Watch => Watch(connection, header, payload),
            XenstoreMessageType.Unwatch => Unwatch(connection, header, payload),
            XenstoreMessageType.TransactionStart => TransactionStart(connection, header),
            XenstoreMessageType.TransactionEnd => TransactionEnd(connection, header, payload),
            XenstoreMessageType.GetDomainPath => GetDomainPath(connection, header, payload),
            XenstoreMessageType.IsDomainIntroduced => IsDomainIntroduced(connection, header, payload),
            XenstoreMessageType.Introduce => Introduce(connection, header, payload),
            XenstoreMessageType.Release => Release(connection, header, payload),
            XenstoreMessageType.Resume => Resume(connection, header, payload),
            XenstoreMessageType.SetTarget => SetTarget(connection, header, payload),
            XenstoreMessageType.ResetWatches => ResetWatches(connection, header),
            XenstoreMessageType.Control => Control(connection, header, payload),
            _ => StoreError.EINVAL,
        };
    }

    private static bool UsesTransaction(XenstoreMessageType type) => type is XenstoreMessageType.Read or XenstoreMessageType.Write
        or XenstoreMessageType.MakeDirectory or XenstoreMessageType.Remove or XenstoreMessageType.Directory
        or XenstoreMessageType.DirectoryPart or XenstoreMessageType.GetPermissions or XenstoreMessageType.SetPermissions
        or XenstoreMessageType.TransactionEnd;

    // ---------------------------------------------------------------- payload parsing

    /// <summary>Takes the next nul-terminated string; false if there is no terminator.</summary>
    private static bool TakeString(ref ReadOnlySpan<byte> payload, out ReadOnlySpan<byte> value)
    {
        int end = payload.IndexOf((byte)0);
        if (end < 0)
        {
            value = default;
            return false;
        }

        value = payload[..end];
        payload = payload[(end + 1)..];
        return true;
    }

    /// <summary>Takes a path argument and makes it absolute (relative paths live under the caller's domain path).</summary>
    private static bool TakePath(ServerConnection connection, ref ReadOnlySpan<byte> payload, out ReadOnlySpan<byte> absolute)
    {
        absolute = default;
        return TakeString(ref payload, out ReadOnlySpan<byte> path) && TryResolve(connection, path, out absolute);
    }

    private static bool TryResolve(ServerConnection connection, ReadOnlySpan<byte> path, out ReadOnlySpan<byte> absolute)
    {
        absolute = default;
        if (!XenstorePath.IsValid(path))
        {
            return false;
        }

        if (path[0] == (byte)'/')
        {
            absolute = path;
            return true;
        }

        byte[] prefix = connection.DomainPrefix;
        int length = prefix.Length + path.Length;
        if (length > XenstoreLimits.AbsolutePathMax)
        {
            return false;
        }

        byte[] scratch = connection.PathScratch;
        prefix.CopyTo(scratch, 0);
        path.CopyTo(scratch.AsSpan(prefix.Length));
        absolute = scratch.AsSpan(0, length);
        return true;
    }

    private static bool TryParseDomain(ReadOnlySpan<byte> text, out int domainId)
    {
        domainId = 0;
        if (!ServerConnection.TryParseNumber(text, out ulong value) || value > 0xFFFF)
        {
            return false;
        }

        domainId = (int)value;
        return true;
    }

    // ---------------------------------------------------------------- tree access

    private static XenstoreNode? Lookup(XenstoreNode root, ReadOnlySpan<byte> absolute)
    {
        XenstoreNode node = root;
        ReadOnlySpan<byte> rest = absolute[1..];
        while (!rest.IsEmpty)
        {
            int slash = rest.IndexOf((byte)'/');
            ReadOnlySpan<byte> segment = slash < 0 ? rest : rest[..slash];
            rest = slash < 0 ? default : rest[(slash + 1)..];
            int index = node.FindChild(segment);
            if (index < 0)
            {
                return null;
            }

            node = node.Children[index];
        }

        return node;
    }

    private static XenstoreNode? Lookup(XenstoreNode root, string absolute)
    {
        Span<byte> bytes = stackalloc byte[absolute.Length];
        Encoding.ASCII.GetBytes(absolute, bytes);
        return Lookup(root, bytes);
    }

    private XenstoreAccess AccessOf(ServerConnection connection, XenstoreNode node)
    {
        if (connection.IsPrivileged)
        {
            return XenstoreAccess.Both;
        }

        XenstoreAccess access = node.Permissions.AccessFor(connection.DomainId);
        if (_targets.TryGetValue(connection.DomainId, out int target))
        {
            // SET_TARGET: a device model acts with its guest's rights too.
            access |= node.Permissions.AccessFor(target);
        }

        return access;
    }

    private bool IsOwner(ServerConnection connection, XenstoreNode node) =>
        connection.IsPrivileged || node.Permissions.Owner == connection.DomainId
        || (_targets.TryGetValue(connection.DomainId, out int target) && node.Permissions.Owner == target);

    private bool CanRead(ServerConnection connection, XenstoreNode node) => (AccessOf(connection, node) & XenstoreAccess.Read) != 0;

    private bool CanWrite(ServerConnection connection, XenstoreNode node) => (AccessOf(connection, node) & XenstoreAccess.Write) != 0;

    /// <summary>
    /// The error for a missing node: ENOENT, or EACCES when the caller could not read the closest existing ancestor,
    /// so that probing cannot reveal what exists in a place the caller may not look at.
    /// </summary>
    private StoreError MissingError(ServerConnection connection, XenstoreNode root, ReadOnlySpan<byte> absolute) =>
        CanRead(connection, ClosestExistingAncestor(root, absolute, out _)) ? StoreError.ENOENT : StoreError.EACCES;

    private long NextGeneration() => ++_generation;

    private int EntryCount(int domainId, ServerTransaction? transaction) =>
        _entries.GetValueOrDefault(domainId) + (transaction?.EntryDelta.GetValueOrDefault(domainId) ?? 0);

    private void AddEntries(int domainId, int delta, ServerTransaction? transaction)
    {
        Dictionary<int, int> counts = transaction?.EntryDelta ?? _entries;
        counts[domainId] = counts.GetValueOrDefault(domainId) + delta;
    }

    private static void Touch(ServerTransaction? transaction, ReadOnlySpan<byte> absolute)
    {
        transaction?.Touched.Add(Encoding.ASCII.GetString(absolute));
    }

    /// <summary>
    /// Touches a path a read looks at, unless that would take an unprivileged transaction past its node quota
    /// (xenstored's <c>transaction-nodes</c>): then the transaction is marked failed and the caller answers ENOSPC.
    /// </summary>
    private bool TryTouch(ServerConnection connection, ServerTransaction? transaction, ReadOnlySpan<byte> absolute)
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
    private bool FitsTransactionQuota(ServerTransaction transaction, XenstoreMessageType type, ReadOnlySpan<byte> absolute)
    {
        string path = Encoding.ASCII.GetString(absolute);
        XenstoreNode? existing = Lookup(transaction.Root, absolute);
        string? other = type switch
        {
            XenstoreMessageType.Remove => Encoding.ASCII.GetString(absolute[..Math.Max(1, absolute.LastIndexOf((byte)'/'))]),
            XenstoreMessageType.Write or XenstoreMessageType.MakeDirectory when existing is null =>
                Encoding.ASCII.GetString(absolute[..ClosestExistingAncestorLength(transaction.Root, absolute)]),
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

    /// <summary>The length of the closest existing ancestor's path (what a write that creates records as created under).</summary>
    private static int ClosestExistingAncestorLength(XenstoreNode root, ReadOnlySpan<byte> absolute)
    {
        ClosestExistingAncestor(root, absolute, out int missing);
        return Math.Max(1, absolute.Length - missing - 1);
    }

    /// <summary>The deepest node that exists on <paramref name="absolute"/>'s way down from the root.</summary>
    /// <param name="root">The tree's root.</param>
    /// <param name="absolute">An absolute path.</param>
    /// <param name="missing">The length of the part of the path below that node (0 when the whole path exists).</param>
    private static XenstoreNode ClosestExistingAncestor(XenstoreNode root, ReadOnlySpan<byte> absolute, out int missing)
    {
        XenstoreNode node = root;
        ReadOnlySpan<byte> rest = absolute[1..];
        while (!rest.IsEmpty)
        {
            int slash = rest.IndexOf((byte)'/');
            int index = node.FindChild(slash < 0 ? rest : rest[..slash]);
            if (index < 0)
            {
                break;
            }

            node = node.Children[index];
            rest = slash < 0 ? default : rest[(slash + 1)..];
        }

        missing = rest.Length;
        return node;
    }

    // ---------------------------------------------------------------- tree edits (no watch firing, no replies)

    /// <summary>Writes (or, with a null value, makes sure of) the node at <paramref name="absolute"/>, creating parents.</summary>
    private StoreError EditWrite(ref XenstoreNode root, ReadOnlySpan<byte> absolute, byte[]? value)
    {
        StoreError error = WriteBelow(root, absolute, absolute[1..], value, out XenstoreNode result);
        if (error == StoreError.None)
        {
            root = result;
        }

        return error;
    }

    private StoreError WriteBelow(XenstoreNode node, ReadOnlySpan<byte> absolute, ReadOnlySpan<byte> rest, byte[]? value, out XenstoreNode result)
    {
        result = node;
        ServerConnection connection = _edit.Connection;
        if (rest.IsEmpty)
        {
            if (!CanWrite(connection, node))
            {
                return StoreError.EACCES;
            }

            if (value is not null)
            {
                result = node.WithValue(value, NextGeneration());
                _edit.Changed = true;
            }

            return StoreError.None;
        }

        int slash = rest.IndexOf((byte)'/');
        ReadOnlySpan<byte> segment = slash < 0 ? rest : rest[..slash];
        ReadOnlySpan<byte> below = slash < 0 ? default : rest[(slash + 1)..];
        int index = node.FindChild(segment);
        if (index >= 0)
        {
            XenstoreNode child = node.Children[index];
            StoreError error = WriteBelow(child, absolute, below, value, out XenstoreNode newChild);
            if (error == StoreError.None && !ReferenceEquals(child, newChild))
            {
                result = node.WithChildReplaced(index, newChild);
            }

            return error;
        }

        // Creation: the closest existing ancestor must be writable; new nodes inherit its permissions, and an
        // unprivileged creator owns them (and pays for them in its quota).
        if (!CanWrite(connection, node))
        {
            return StoreError.EACCES;
        }

        XenstorePermissions permissions = connection.IsPrivileged ? node.Permissions : node.Permissions.WithOwner(connection.DomainId);
        int created = 1 + rest.Count((byte)'/');
        if (!connection.IsPrivileged && EntryCount(connection.DomainId, _edit.Transaction) + created > _options.MaxEntriesPerDomain)
        {
            return StoreError.ENOSPC;
        }

        long generation = NextGeneration();
        int lastSlash = rest.LastIndexOf((byte)'/');
        XenstoreNode chain = new(rest[(lastSlash + 1)..].ToArray(), value ?? [], permissions, XenstoreNode.NoChildren, generation);
        ReadOnlySpan<byte> upper = lastSlash < 0 ? default : rest[..lastSlash];
        while (!upper.IsEmpty)
        {
            int cut = upper.LastIndexOf((byte)'/');
            chain = new XenstoreNode(upper[(cut + 1)..].ToArray(), [], permissions, [chain], generation);
            upper = cut < 0 ? default : upper[..cut];
        }

        AddEntries(permissions.Owner, created, _edit.Transaction);
        _edit.Changed = true;
        _edit.CreatedUnderLength = Math.Max(1, absolute.Length - rest.Length - 1);
        result = node.WithChildInserted(~index, chain, generation);
        return StoreError.None;
    }

    /// <summary>Removes the node at <paramref name="absolute"/> and its subtree; fine if it is missing but its parent exists.</summary>
    private StoreError EditRemove(ref XenstoreNode root, ReadOnlySpan<byte> absolute)
    {
        if (absolute.Length == 1)
        {
            return StoreError.EINVAL;
        }

        StoreError error = RemoveBelow(root, absolute[1..], out XenstoreNode result);
        if (error == StoreError.None)
        {
            root = result;
        }

        return error;
    }

    private StoreError RemoveBelow(XenstoreNode node, ReadOnlySpan<byte> rest, out XenstoreNode result)
    {
        result = node;
        int slash = rest.IndexOf((byte)'/');
        ReadOnlySpan<byte> segment = slash < 0 ? rest : rest[..slash];
        int index = node.FindChild(segment);
        if (slash < 0)
        {
            if (index < 0)
            {
                return StoreError.None;
            }

            XenstoreNode target = node.Children[index];
            if (!CanWrite(_edit.Connection, target))
            {
                return StoreError.EACCES;
            }

            var owners = new Dictionary<int, int>();
            target.CountOwners(owners);
            foreach ((int owner, int count) in owners)
            {
                AddEntries(owner, -count, _edit.Transaction);
            }

            _edit.Changed = true;
            _edit.Removed = target;
            result = node.WithChildRemoved(index, NextGeneration());
            return StoreError.None;
        }

        if (index < 0)
        {
            return StoreError.ENOENT;
        }

        XenstoreNode child = node.Children[index];
        StoreError error = RemoveBelow(child, rest[(slash + 1)..], out XenstoreNode newChild);
        if (error == StoreError.None && !ReferenceEquals(child, newChild))
        {
            result = node.WithChildReplaced(index, newChild);
        }

        return error;
    }

    private StoreError EditSetPermissions(ref XenstoreNode root, ReadOnlySpan<byte> absolute, XenstorePermissions permissions)
    {
        StoreError error = SetPermissionsBelow(root, absolute[1..], permissions, out XenstoreNode result);
        if (error == StoreError.None)
        {
            root = result;
        }

        return error;
    }

    private StoreError SetPermissionsBelow(XenstoreNode node, ReadOnlySpan<byte> rest, XenstorePermissions permissions, out XenstoreNode result)
    {
        result = node;
        ServerConnection connection = _edit.Connection;
        if (rest.IsEmpty)
        {
            if (!IsOwner(connection, node))
            {
                return StoreError.EACCES;
            }

            if (!connection.IsPrivileged && permissions.Owner != node.Permissions.Owner)
            {
                // Only a privileged domain may give a node away (it would escape the giver's quota).
                return StoreError.EPERM;
            }

            if (permissions.Owner != node.Permissions.Owner)
            {
                AddEntries(node.Permissions.Owner, -1, _edit.Transaction);
                AddEntries(permissions.Owner, 1, _edit.Transaction);
            }

            _edit.Changed = true;
            result = node.WithPermissions(permissions, NextGeneration());
            return StoreError.None;
        }

        int slash = rest.IndexOf((byte)'/');
        int index = node.FindChild(slash < 0 ? rest : rest[..slash]);
        if (index < 0)
        {
            return StoreError.ENOENT;
        }

        XenstoreNode child = node.Children[index];
        StoreError error = SetPermissionsBelow(child, slash < 0 ? default : rest[(slash + 1)..], permissions, out XenstoreNode newChild);
        if (error == StoreError.None && !ReferenceEquals(child, newChild))
        {
            result = node.WithChildReplaced(index, newChild);
        }

        return error;
    }

    // ---------------------------------------------------------------- node requests

    private StoreError Read(ServerConnection connection, in XenstoreMessageHeader header, ServerTransaction? transaction, ReadOnlySpan<byte> payload)
    {
        if (!TakePath(connection, ref payload, out ReadOnlySpan<byte> absolute))
        {
            return StoreError.EINVAL;
        }

        XenstoreNode root = transaction?.Root ?? _root;
        if (!TryTouch(connection, transaction, absolute))
        {
            return StoreError.ENOSPC;
        }

        XenstoreNode? node = Lookup(root, absolute);
        if (node is null)
        {
            return MissingError(connection, root, absolute);
        }

        if (!CanRead(connection, node))
        {
            return StoreError.EACCES;
        }

        connection.AppendReply(header, node.Value);
        return StoreError.None;
    }

    private StoreError Write(ServerConnection connection, in XenstoreMessageHeader header, ServerTransaction? transaction, ReadOnlySpan<byte> payload)
    {
        if (!TakePath(connection, ref payload, out ReadOnlySpan<byte> absolute))
        {
            return StoreError.EINVAL;
        }

        if (!connection.IsPrivileged && payload.Length > _options.MaxEntrySize)
        {
            return StoreError.ENOSPC;
        }

        return Change(connection, header, transaction, XenstoreMessageType.Write, absolute, payload.ToArray(), null);
    }

    private StoreError MakeDirectory(ServerConnection connection, in XenstoreMessageHeader header, ServerTransaction? transaction, ReadOnlySpan<byte> payload)
    {
        if (!TakePath(connection, ref payload, out ReadOnlySpan<byte> absolute))
        {
            return StoreError.EINVAL;
        }

        return Change(connection, header, transaction, XenstoreMessageType.MakeDirectory, absolute, null, null);
    }

    private StoreError Remove(ServerConnection connection, in XenstoreMessageHeader header, ServerTransaction? transaction, ReadOnlySpan<byte> payload)
    {
        if (!TakePath(connection, ref payload, out ReadOnlySpan<byte> absolute))
        {
            return StoreError.EINVAL;
        }

        return Change(connection, header, transaction, XenstoreMessageType.Remove, absolute, null, null);
    }

    private StoreError SetPermissions(ServerConnection connection, in XenstoreMessageHeader header, ServerTransaction? transaction, ReadOnlySpan<byte> payload)
    {
        if (!TakePath(connection, ref payload, out ReadOnlySpan<byte> absolute)
            || !XenstorePermissions.TryParseWire(payload, out XenstorePermissions? permissions))
        {
            return StoreError.EINVAL;
        }

        if (!connection.IsPrivileged && permissions!.Entries.Count > _options.MaxPermissionsPerNode)
        {
            return StoreError.ENOSPC;
        }

        return Change(connection, header, transaction, XenstoreMessageType.SetPermissions, absolute, null, permissions);
    }

    /// <summary>Applies a change to the transaction's view or to the live tree, fires watches (live only) and replies.</summary>
    private StoreError Change(ServerConnection connection, in XenstoreMessageHeader header, ServerTransaction? transaction,
        XenstoreMessageType type, ReadOnlySpan<byte> absolute, byte[]? value, XenstorePermissions? permissions)
    {
        if (transaction is not null && !connection.IsPrivileged && !FitsTransactionQuota(transaction, type, absolute))
        {
            // Checked before the edit, so that the refused change leaves the transaction's view and counts as they were.
            transaction.Failed = true;
            return StoreError.ENOSPC;
        }

        _edit.Reset(connection, transaction);
        XenstoreNode root = transaction?.Root ?? _root;
        XenstoreNode before = root;
        StoreError error = type switch
        {
            XenstoreMessageType.Write => EditWrite(ref root, absolute, value),
            XenstoreMessageType.MakeDirectory => EditWrite(ref root, absolute, null),
            XenstoreMessageType.Remove => EditRemove(ref root, absolute),
            _ => EditSetPermissions(ref root, absolute, permissions!),
        };

        if (error == StoreError.ENOENT && type == XenstoreMessageType.SetPermissions)
        {
            error = MissingError(connection, before, absolute);
        }

        if (error != StoreError.None)
        {
            return error;
        }

        if (transaction is not null)
        {
            transaction.Root = root;
            Touch(transaction, absolute);
            if (_edit.CreatedUnderLength > 0)
            {
                Touch(transaction, absolute[.._edit.CreatedUnderLength]);
            }

            if (type == XenstoreMessageType.Remove)
            {
                Touch(transaction, absolute[..Math.Max(1, absolute.LastIndexOf((byte)'/'))]);
            }

            if (_edit.Changed)
            {
                transaction.Record(new ServerTransactionOperation(type, Encoding.ASCII.GetString(absolute), value, permissions));
            }
        }
        else
        {
            _root = root;
            if (_edit.Changed)
            {
                if (type == XenstoreMessageType.Remove)
                {
                    FireRemoved(absolute, _edit.Removed!);
                }
                else
                {
                    FireChanged(absolute, Lookup(root, absolute)!);
                }
            }
        }

        connection.AppendReply(header, Ok);
        return StoreError.None;
    }

    private StoreError Directory(ServerConnection connection, in XenstoreMessageHeader header, ServerTransaction? transaction, ReadOnlySpan<byte> payload)
    {
        if (!TakePath(connection, ref payload, out ReadOnlySpan<byte> absolute))
        {
            return StoreError.EINVAL;
        }

        StoreError error = FindReadable(connection, transaction, absolute, out XenstoreNode? node);
        if (error != StoreError.None)
        {
            return error;
        }

        Span<byte> reply = connection.ReplyScratch.AsSpan(0, XenstoreLimits.PayloadMax);
        int length = 0;
        foreach (XenstoreNode child in node!.Children)
        {
            if (length + child.Name.Length + 1 > reply.Length)
            {
                // Too long for one reply: the client asks again with DIRECTORY_PART.
                return StoreError.E2BIG;
            }

            child.Name.CopyTo(reply[length..]);
            length += child.Name.Length;
            reply[length++] = 0;
        }

        connection.AppendReply(header, reply[..length]);
        return StoreError.None;
    }

    /// <summary>
    /// DIRECTORY_PART: the generation of the node, then the children from a byte offset into the list of
    /// nul-terminated names, whole names only; an extra nul marks the end of the list.
    /// </summary>
    private StoreError DirectoryPart(ServerConnection connection, in XenstoreMessageHeader header, ServerTransaction? transaction, ReadOnlySpan<byte> payload)
    {
        if (!TakePath(connection, ref payload, out ReadOnlySpan<byte> absolute)
            || !TakeString(ref payload, out ReadOnlySpan<byte> offsetText)
            || !ServerConnection.TryParseNumber(offsetText, out ulong offset))
        {
            return StoreError.EINVAL;
        }

        StoreError error = FindReadable(connection, transaction, absolute, out XenstoreNode? node);
        if (error != StoreError.None)
        {
            return error;
        }

        Span<byte> reply = connection.ReplyScratch.AsSpan(0, XenstoreLimits.PayloadMax);
        int length = ServerConnection.FormatNumber((ulong)node!.Generation, reply);
        ulong position = 0;
        int index = 0;
        XenstoreNode[] children = node.Children;
        while (index < children.Length && position < offset)
        {
            position += (ulong)children[index++].Name.Length + 1;
        }

        if (position != offset)
        {
            return StoreError.EINVAL;
        }

        for (; index < children.Length; index++)
        {
            byte[] name = children[index].Name;
            if (length + name.Length + 1 > reply.Length)
            {
                break;
            }

            name.CopyTo(reply[length..]);
            length += name.Length;
            reply[length++] = 0;
        }

        if (index == children.Length && length < reply.Length)
        {
            reply[length++] = 0;
        }

        connection.AppendReply(header, reply[..length]);
        return StoreError.None;
    }

    private StoreError GetPermissions(ServerConnection connection, in XenstoreMessageHeader header, ServerTransaction? transaction, ReadOnlySpan<byte> payload)
    {
        if (!TakePath(connection, ref payload, out ReadOnlySpan<byte> absolute))
        {
            return StoreError.EINVAL;
        }

        StoreError error = FindReadable(connection, transaction, absolute, out XenstoreNode? node);
        if (error != StoreError.None)
        {
            return error;
        }

        int length = node!.Permissions.WriteWire(connection.ReplyScratch);
        connection.AppendReply(header, connection.ReplyScratch.AsSpan(0, length));
        return StoreError.None;
    }

    private StoreError FindReadable(ServerConnection connection, ServerTransaction? transaction, ReadOnlySpan<byte> absolute, out XenstoreNode? node)
    {
        XenstoreNode root = transaction?.Root ?? _root;
        node = null;
        if (!TryTouch(connection, transaction, absolute))
        {
            return StoreError.ENOSPC;
        }

        node = Lookup(root, absolute);
        if (node is null)
        {
            return MissingError(connection, root, absolute);
        }

        return CanRead(connection, node) ? StoreError.None : StoreError.EACCES;
    }

    // ---------------------------------------------------------------- watches

    private StoreError Watch(ServerConnection connection, in XenstoreMessageHeader header, ReadOnlySpan<byte> payload)
    {
        if (!TakeString(ref payload, out ReadOnlySpan<byte> path) || !TakeString(ref payload, out ReadOnlySpan<byte> token))
        {
            return StoreError.EINVAL;
        }

        scoped ReadOnlySpan<byte> absolute;
        if (path.Length > 0 && path[0] == (byte)'@')
        {
            if (path.Length > XenstoreLimits.RelativePathMax || !XenstorePath.IsValid(path))
            {
                return StoreError.EINVAL;
            }

            absolute = path;
        }
        else if (!TryResolve(connection, path, out absolute))
        {
            return StoreError.EINVAL;
        }

        string key = ServerConnection.WatchKey(path, token);
        if (connection.WatchKeys.Contains(key))
        {
            return StoreError.EEXIST;
        }

        if (!connection.IsPrivileged && CountWatches(connection.DomainId) >= _options.MaxWatchesPerDomain)
        {
            return StoreError.E2BIG;
        }

        var watch = new ServerWatch(connection, absolute.ToArray(), path.ToArray(), token.ToArray());
        connection.WatchKeys.Add(key);
        connection.Watches.Add(watch);
        _watches.Add(watch);
        connection.AppendReply(header, Ok);

        // A new watch fires once straight away, with the path as registered.
        connection.Append(XenstoreMessageType.WatchEvent, 0, 0, watch.RequestedPath, [0], watch.Token, [0]);
        return StoreError.None;
    }

    /// <summary>Removes all of a connection's watches in one pass over the store's list (one Remove each was O(n²)).</summary>
    private void ForgetWatches(ServerConnection connection)
    {
        if (connection.Watches.Count > 0)
        {
            _watches.RemoveAll(watch => ReferenceEquals(watch.Connection, connection));
        }

        connection.Watches.Clear();
        connection.WatchKeys.Clear();
    }

    private int CountWatches(int domainId)
    {
        int count = 0;
        foreach (ServerConnection connection in _connections)
        {
            if (connection.DomainId == domainId)
            {
                count += connection.Watches.Count;
            }
        }

        return count;
    }

    private StoreError Unwatch(ServerConnection connection, in XenstoreMessageHeader header, ReadOnlySpan<byte> payload)
    {
        if (!TakeString(ref payload, out ReadOnlySpan<byte> path) || !TakeString(ref payload, out ReadOnlySpan<byte> token))
        {
            return StoreError.EINVAL;
        }

        if (!connection.WatchKeys.Remove(ServerConnection.WatchKey(path, token)))
        {
            return StoreError.ENOENT;
        }

        for (int i = 0; i < connection.Watches.Count; i++)
        {
            ServerWatch watch = connection.Watches[i];
            if (watch.RequestedPath.AsSpan().SequenceEqual(path) && watch.Token.AsSpan().SequenceEqual(token))
            {
                connection.Watches.RemoveAt(i);
                _watches.Remove(watch);
                connection.AppendReply(header, Ok);
                return StoreError.None;
            }
        }

        return StoreError.ENOENT;
    }

    private StoreError ResetWatches(ServerConnection connection, in XenstoreMessageHeader header)
    {
        ForgetWatches(connection);
        connection.Transactions.Clear();
        connection.AppendReply(header, Ok);
        return StoreError.None;
    }

    /// <summary>True if <paramref name="child"/> is <paramref name="parent"/> or below it.</summary>
    private static bool IsAtOrBelow(ReadOnlySpan<byte> child, ReadOnlySpan<byte> parent) =>
        parent.Length == 1 ? child.Length > 0 && child[0] == (byte)'/'
            : child.StartsWith(parent) && (child.Length == parent.Length || child[parent.Length] == (byte)'/');

    /// <summary>Fires the watches on <paramref name="absolute"/> and its ancestors.</summary>
    private void FireChanged(ReadOnlySpan<byte> absolute, XenstoreNode node)
    {
        foreach (ServerWatch watch in _watches)
        {
            if (!watch.IsSpecial && IsAtOrBelow(absolute, watch.AbsolutePath) && CanRead(watch.Connection, node))
            {
                Deliver(watch, absolute);
            }
        }
    }

    /// <summary>
    /// Fires the watches on a removed subtree: those on it or its ancestors see its path, those inside it see their
    /// own path (the event path must always be at or below the watched path).
    /// </summary>
    private void FireRemoved(ReadOnlySpan<byte> absolute, XenstoreNode removed)
    {
        foreach (ServerWatch watch in _watches)
        {
            if (watch.IsSpecial || !CanRead(watch.Connection, removed))
            {
                continue;
            }

            if (IsAtOrBelow(absolute, watch.AbsolutePath))
            {
                Deliver(watch, absolute);
            }
            else if (IsAtOrBelow(watch.AbsolutePath, absolute))
            {
                Deliver(watch, watch.AbsolutePath);
            }
        }
    }

    private void FireSpecial(byte[] special)
    {
        foreach (ServerWatch watch in _watches)
        {
            // Like xenstored's default permissions on the special nodes: only privileged watchers hear of domains.
            if (watch.IsSpecial && watch.Connection.IsPrivileged && watch.AbsolutePath.AsSpan().SequenceEqual(special))
            {
                Deliver(watch, special);
            }
        }
    }

    private void Deliver(ServerWatch watch, ReadOnlySpan<byte> absolute)
    {
        ServerConnection target = watch.Connection;
        ReadOnlySpan<byte> reported = absolute;
        if (watch.IsRelative && absolute.StartsWith(target.DomainPrefix))
        {
            reported = absolute[target.DomainPrefix.Length..];
        }

        target.Append(XenstoreMessageType.WatchEvent, 0, 0, reported, [0], watch.Token, [0]);
        if (!ReferenceEquals(target, _current))
        {
            target.ScheduleFlush();
        }
    }

    // ---------------------------------------------------------------- transactions

    private StoreError TransactionStart(ServerConnection connection, in XenstoreMessageHeader header)
    {
        if (header.TransactionId != 0)
        {
            return StoreError.EINVAL;
        }

        if (!connection.IsPrivileged && connection.Transactions.Count >= _options.MaxTransactionsPerDomain)
        {
            return StoreError.ENOSPC;
        }

        uint id = connection.NextTransactionId;
        while (id == 0 || connection.Transactions.ContainsKey(id))
        {
            id++;
        }

        connection.NextTransactionId = id + 1;
        connection.Transactions[id] = new ServerTransaction(id, _root);
        Span<byte> reply = stackalloc byte[16];
        int length = ServerConnection.FormatNumber(id, reply);
        connection.AppendReply(header, reply[..length]);
        return StoreError.None;
    }

    private StoreError TransactionEnd(ServerConnection connection, in XenstoreMessageHeader header, ReadOnlySpan<byte> payload)
    {
        if (header.TransactionId == 0 || !TakeString(ref payload, out ReadOnlySpan<byte> verdict)
            || verdict.Length != 1 || (verdict[0] != (byte)'T' && verdict[0] != (byte)'F'))
        {
            return StoreError.EINVAL;
        }

        ServerTransaction transaction = connection.Transactions[header.TransactionId];
        connection.Transactions.Remove(header.TransactionId);
        if (verdict[0] == (byte)'T')
        {
            if (transaction.Failed)
            {
                // xenstored: a transaction a request failed in (its node quota) ends with ENOMEM and applies nothing.
                return StoreError.ENOMEM;
            }

            StoreError error = Commit(connection, transaction);
            if (error != StoreError.None)
            {
                return error;
            }
        }

        connection.AppendReply(header, Ok);
        return StoreError.None;
    }

    /// <summary>
    /// Commits when every node the transaction looked at or changed still has the generation it had at start
    /// (EAGAIN otherwise). Without intervening changes the transaction's root simply becomes the live one;
    /// otherwise its changes are replayed on the live tree.
    /// </summary>
    private StoreError Commit(ServerConnection connection, ServerTransaction transaction)
    {
        XenstoreNode before = _root;
        if (transaction.Operations.Count == 0)
        {
            return ConflictsWithLive(transaction) ? StoreError.EAGAIN : StoreError.None;
        }

        if (ReferenceEquals(before, transaction.Snapshot))
        {
            _root = transaction.Root;
            foreach ((int domain, int delta) in transaction.EntryDelta)
            {
                AddEntries(domain, delta, null);
            }
        }
        else
        {
            if (ConflictsWithLive(transaction))
            {
                return StoreError.EAGAIN;
            }

            XenstoreNode root = _root;
            foreach (ServerTransactionOperation operation in transaction.Operations)
            {
                _edit.Reset(connection, null);
                byte[] path = Encoding.ASCII.GetBytes(operation.Path);
                StoreError ignored = operation.Type switch
                {
                    XenstoreMessageType.Write => EditWrite(ref root, path, operation.Value),
                    XenstoreMessageType.MakeDirectory => EditWrite(ref root, path, null),
                    XenstoreMessageType.Remove => EditRemove(ref root, path),
                    _ => EditSetPermissions(ref root, path, operation.Permissions!),
                };
                _ = ignored;
            }

            _root = root;
        }

        foreach (ServerTransactionOperation operation in transaction.Operations)
        {
            byte[] path = Encoding.ASCII.GetBytes(operation.Path);
            if (operation.Type == XenstoreMessageType.Remove)
            {
                XenstoreNode? removed = Lookup(before, path);
                if (removed is not null)
                {
                    FireRemoved(path, removed);
                }
            }
            else if (Lookup(_root, path) is { } node)
            {
                FireChanged(path, node);
            }
        }

        return StoreError.None;
    }

    private bool ConflictsWithLive(ServerTransaction transaction)
    {
        if (ReferenceEquals(_root, transaction.Snapshot))
        {
            return false;
        }

        foreach (string path in transaction.Touched)
        {
            long atStart = Lookup(transaction.Snapshot, path)?.Generation ?? -1;
            long now = Lookup(_root, path)?.Generation ?? -1;
            if (atStart != now)
            {
                return true;
            }
        }

        return false;
    }

    // ---------------------------------------------------------------- domain requests

    private StoreError GetDomainPath(ServerConnection connection, in XenstoreMessageHeader header, ReadOnlySpan<byte> payload)
    {
        if (!TakeString(ref payload, out ReadOnlySpan<byte> text) || !TryParseDomain(text, out int domainId))
        {
            return StoreError.EINVAL;
        }

        Span<byte> reply = stackalloc byte[32];
        "/local/domain/"u8.CopyTo(reply);
        int length = 14 + ServerConnection.FormatNumber((ulong)domainId, reply[14..]);
        connection.AppendReply(header, reply[..length]);
        return StoreError.None;
    }

    private StoreError IsDomainIntroduced(ServerConnection connection, in XenstoreMessageHeader header, ReadOnlySpan<byte> payload)
    {
        if (!TakeString(ref payload, out ReadOnlySpan<byte> text) || !TryParseDomain(text, out int domainId))
        {
            return StoreError.EINVAL;
        }

        connection.AppendReply(header, domainId == 0 || _introduced.ContainsKey(domainId) ? True : False);
        return StoreError.None;
    }

    private StoreError Introduce(ServerConnection connection, in XenstoreMessageHeader header, ReadOnlySpan<byte> payload)
    {
        if (!connection.IsPrivileged)
        {
            return StoreError.EACCES;
        }

        // <domid>|<mfn>|<evtchn>|: the ring page and event channel mean nothing without a hypervisor; the domain
        // id is what the embedded server keeps.
        if (!TakeString(ref payload, out ReadOnlySpan<byte> text) || !TryParseDomain(text, out int domainId) || domainId == 0
            || !TakeString(ref payload, out _) || !TakeString(ref payload, out _))
        {
            return StoreError.EINVAL;
        }

        IntroduceDomain(domainId);
        connection.AppendReply(header, Ok);
        return StoreError.None;
    }

    private StoreError Release(ServerConnection connection, in XenstoreMessageHeader header, ReadOnlySpan<byte> payload)
    {
        if (!connection.IsPrivileged)
        {
            return StoreError.EACCES;
        }

        if (!TakeString(ref payload, out ReadOnlySpan<byte> text) || !TryParseDomain(text, out int domainId) || domainId == 0)
        {
            return StoreError.EINVAL;
        }

        if (!ReleaseDomain(domainId))
        {
            return StoreError.ENOENT;
        }

        connection.AppendReply(header, Ok);
        return StoreError.None;
    }

    private StoreError Resume(ServerConnection connection, in XenstoreMessageHeader header, ReadOnlySpan<byte> payload)
    {
        if (!connection.IsPrivileged)
        {
            return StoreError.EACCES;
        }

        if (!TakeString(ref payload, out ReadOnlySpan<byte> text) || !TryParseDomain(text, out int domainId))
        {
            return StoreError.EINVAL;
        }

        if (domainId != 0 && !_introduced.ContainsKey(domainId))
        {
            return StoreError.ENOENT;
        }

        connection.AppendReply(header, Ok);
        return StoreError.None;
    }

    private StoreError SetTarget(ServerConnection connection, in XenstoreMessageHeader header, ReadOnlySpan<byte> payload)
    {
        if (!connection.IsPrivileged)
        {
            return StoreError.EACCES;
        }

        if (!TakeString(ref payload, out ReadOnlySpan<byte> text) || !TryParseDomain(text, out int domainId)
            || !TakeString(ref payload, out ReadOnlySpan<byte> targetText) || !TryParseDomain(targetText, out int target))
        {
            return StoreError.EINVAL;
        }

        _targets[domainId] = target;
        connection.AppendReply(header, Ok);
        return StoreError.None;
    }

    private StoreError Control(ServerConnection connection, in XenstoreMessageHeader header, ReadOnlySpan<byte> payload)
    {
        if (!connection.IsPrivileged)
        {
            return StoreError.EACCES;
        }

        if (!TakeString(ref payload, out ReadOnlySpan<byte> command))
        {
            return StoreError.EINVAL;
        }

        if (command.SequenceEqual("help"u8))
        {
            connection.AppendReply(header, ControlHelp);
        }
        else if (command.SequenceEqual("check"u8) || command.SequenceEqual("print"u8))
        {
            connection.AppendReply(header, Ok);
        }
        else
        {
            return StoreError.EINVAL;
        }

        return StoreError.None;
    }
}
