using System.Text;
using VirtualDevices.Xen.Xenstore.Protocol;

namespace VirtualDevices.Xen.Xenstore.Server;

internal sealed partial class XenstoreDatabase
{
    private ServerError TransactionStart(ServerConnection connection, in XenstoreMessageHeader header)
    {
        if (header.TransactionId != 0)
        {
            return ServerError.EINVAL;
        }

        if (!connection.IsPrivileged && connection.Transactions.Count >= _options.MaxTransactionsPerDomain)
        {
            return ServerError.ENOSPC;
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
        return ServerError.None;
    }

    private ServerError TransactionEnd(ServerConnection connection, in XenstoreMessageHeader header, ReadOnlySpan<byte> payload)
    {
        if (header.TransactionId == 0 || !RequestPayload.TakeString(ref payload, out ReadOnlySpan<byte> verdict)
            || verdict.Length != 1 || (verdict[0] != (byte)'T' && verdict[0] != (byte)'F'))
        {
            return ServerError.EINVAL;
        }

        ServerTransaction transaction = connection.Transactions[header.TransactionId];
        connection.Transactions.Remove(header.TransactionId);
        if (verdict[0] == (byte)'T')
        {
            if (transaction.Failed)
            {
                // xenstored: a transaction a request failed in (its node quota) ends with ENOMEM and applies nothing.
                return ServerError.ENOMEM;
            }

            ServerError error = Commit(connection, transaction);
            if (error != ServerError.None)
            {
                return error;
            }
        }

        connection.AppendReply(header, ServerReplies.Ok);
        return ServerError.None;
    }

    /// <summary>
    /// Commits when every node the transaction looked at or changed still has the generation it had at start
    /// (EAGAIN otherwise). Without intervening changes the transaction's root simply becomes the live one;
    /// otherwise its changes are replayed on the live tree.
    /// </summary>
    private ServerError Commit(ServerConnection connection, ServerTransaction transaction)
    {
        XenstoreNode before = _root;
        if (transaction.Operations.Count == 0)
        {
            return ConflictsWithLive(transaction) ? ServerError.EAGAIN : ServerError.None;
        }

        if (ReferenceEquals(before, transaction.Snapshot))
        {
            _root = transaction.Root;
            foreach ((int domain, int delta) in transaction.EntryDelta)
            {
                _quotas.AddEntries(domain, delta, null);
            }
        }
        else
        {
            if (ConflictsWithLive(transaction))
            {
                return ServerError.EAGAIN;
            }

            XenstoreNode root = _root;
            foreach (ServerTransactionOperation operation in transaction.Operations)
            {
                _editor.Reset(connection, null);
                byte[] path = Encoding.ASCII.GetBytes(operation.Path);
                ServerError ignored = operation.Type switch
                {
                    XenstoreMessageType.Write => _editor.EditWrite(ref root, path, operation.Value),
                    XenstoreMessageType.MakeDirectory => _editor.EditWrite(ref root, path, null),
                    XenstoreMessageType.Remove => _editor.EditRemove(ref root, path),
                    _ => _editor.EditSetPermissions(ref root, path, operation.Permissions!),
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
                XenstoreNode? removed = TreeLookup.Lookup(before, path);
                if (removed is not null)
                {
                    _watches.FireRemoved(path, removed);
                }
            }
            else if (TreeLookup.Lookup(_root, path) is { } node)
            {
                _watches.FireChanged(path, node);
            }
        }

        return ServerError.None;
    }

    private bool ConflictsWithLive(ServerTransaction transaction)
    {
        if (ReferenceEquals(_root, transaction.Snapshot))
        {
            return false;
        }

        foreach (string path in transaction.Touched)
        {
            long atStart = TreeLookup.Lookup(transaction.Snapshot, path)?.Generation ?? -1;
            long now = TreeLookup.Lookup(_root, path)?.Generation ?? -1;
            if (atStart != now)
            {
                return true;
            }
        }

        return false;
    }
}
