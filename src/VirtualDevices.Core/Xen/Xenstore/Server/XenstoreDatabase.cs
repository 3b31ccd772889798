using VirtualDevices.Xen.Xenstore.Protocol;

namespace VirtualDevices.Xen.Xenstore.Server;

/// <summary>
/// The embedded server's database: the node tree and the requests on it. Every request runs under one lock
/// (<see cref="Sync"/>): a request takes microseconds, xenstore traffic is small, and one lock makes every request
/// atomic, as xenstored's single thread does. The concerns live in their own types: <see cref="DomainRights"/> (who
/// may do what), <see cref="NodeQuotas"/>, <see cref="TreeEditor"/> (the edits), <see cref="WatchTable"/>, and
/// <see cref="RequestPayload"/> (argument parsing); this class dispatches (here), answers the node requests
/// (XenstoreDatabase.Nodes.cs), the transactions (XenstoreDatabase.Transactions.cs) and the domain requests
/// (XenstoreDatabase.Domains.cs).
/// </summary>
internal sealed partial class XenstoreDatabase
{
    private readonly XenstoreServerOptions _options;
    private readonly List<ServerConnection> _connections = [];
    private readonly DomainRights _rights = new();
    private readonly NodeQuotas _quotas;
    private readonly TreeEditor _editor;
    private readonly WatchTable _watches;
    private XenstoreNode _root;

    internal XenstoreDatabase(XenstoreServerOptions options)
    {
        _options = options;
        _root = new XenstoreNode([], [], XenstorePermissions.Default, XenstoreNode.NoChildren, 0);
        _quotas = new NodeQuotas(options);
        _editor = new TreeEditor(options, _rights, _quotas);
        _watches = new WatchTable(options, _rights);
    }

    /// <summary>The lock every request and every domain change holds.</summary>
    internal object Sync { get; } = new();

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
            _watches.Forget(connection);
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

    /// <summary>Answers one request. Anything the request gets wrong becomes an error reply.</summary>
    internal void Process(ServerConnection connection, in XenstoreMessageHeader header, ReadOnlySpan<byte> payload)
    {
        lock (Sync)
        {
            _watches.Current = connection;
            try
            {
                ServerError error = Dispatch(connection, header, payload);
                if (error != ServerError.None)
                {
                    connection.AppendError(header, ServerReplies.ErrorName(error));
                }
            }
            finally
            {
                _watches.Current = null;
            }
        }
    }

    private ServerError Dispatch(ServerConnection connection, in XenstoreMessageHeader header, ReadOnlySpan<byte> payload)
    {
        ServerTransaction? transaction = null;
        if (header.TransactionId != 0 && UsesTransaction(header.Type)
            && !connection.Transactions.TryGetValue(header.TransactionId, out transaction))
        {
            return ServerError.ENOENT;
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
            XenstoreMessageType.Watch => _watches.Watch(connection, header, payload),
            XenstoreMessageType.Unwatch => _watches.Unwatch(connection, header, payload),
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
            _ => ServerError.EINVAL,
        };
    }

    private static bool UsesTransaction(XenstoreMessageType type) => type is XenstoreMessageType.Read or XenstoreMessageType.Write
        or XenstoreMessageType.MakeDirectory or XenstoreMessageType.Remove or XenstoreMessageType.Directory
        or XenstoreMessageType.DirectoryPart or XenstoreMessageType.GetPermissions or XenstoreMessageType.SetPermissions
        or XenstoreMessageType.TransactionEnd;

    /// <summary>
    /// The error for a missing node: ENOENT, or EACCES when the caller could not read the closest existing ancestor,
    /// so that probing cannot reveal what exists in a place the caller may not look at.
    /// </summary>
    private ServerError MissingError(ServerConnection connection, XenstoreNode root, ReadOnlySpan<byte> absolute) =>
        _rights.CanRead(connection, TreeLookup.ClosestExistingAncestor(root, absolute, out _)) ? ServerError.ENOENT : ServerError.EACCES;

    private ServerError ResetWatches(ServerConnection connection, in XenstoreMessageHeader header)
    {
        _watches.Forget(connection);
        connection.Transactions.Clear();
        connection.AppendReply(header, ServerReplies.Ok);
        return ServerError.None;
    }
}
