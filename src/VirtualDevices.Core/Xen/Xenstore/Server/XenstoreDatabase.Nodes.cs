using System.Text;
using VirtualDevices.Xen.Xenstore.Protocol;

namespace VirtualDevices.Xen.Xenstore.Server;

internal sealed partial class XenstoreDatabase
{
    private ServerError Read(ServerConnection connection, in XenstoreMessageHeader header, ServerTransaction? transaction, ReadOnlySpan<byte> payload)
    {
        if (!RequestPayload.TakePath(connection, ref payload, out ReadOnlySpan<byte> absolute))
        {
            return ServerError.EINVAL;
        }

        XenstoreNode root = transaction?.Root ?? _root;
        if (!_quotas.TryTouch(connection, transaction, absolute))
        {
            return ServerError.ENOSPC;
        }

        XenstoreNode? node = TreeLookup.Lookup(root, absolute);
        if (node is null)
        {
            return MissingError(connection, root, absolute);
        }

        if (!_rights.CanRead(connection, node))
        {
            return ServerError.EACCES;
        }

        connection.AppendReply(header, node.Value);
        return ServerError.None;
    }

    private ServerError Write(ServerConnection connection, in XenstoreMessageHeader header, ServerTransaction? transaction, ReadOnlySpan<byte> payload)
    {
        if (!RequestPayload.TakePath(connection, ref payload, out ReadOnlySpan<byte> absolute))
        {
            return ServerError.EINVAL;
        }

        if (!connection.IsPrivileged && payload.Length > _options.MaxEntrySize)
        {
            return ServerError.ENOSPC;
        }

        return Change(connection, header, transaction, XenstoreMessageType.Write, absolute, payload.ToArray(), null);
    }

    private ServerError MakeDirectory(ServerConnection connection, in XenstoreMessageHeader header, ServerTransaction? transaction, ReadOnlySpan<byte> payload)
    {
        if (!RequestPayload.TakePath(connection, ref payload, out ReadOnlySpan<byte> absolute))
        {
            return ServerError.EINVAL;
        }

        return Change(connection, header, transaction, XenstoreMessageType.MakeDirectory, absolute, null, null);
    }

    private ServerError Remove(ServerConnection connection, in XenstoreMessageHeader header, ServerTransaction? transaction, ReadOnlySpan<byte> payload)
    {
        if (!RequestPayload.TakePath(connection, ref payload, out ReadOnlySpan<byte> absolute))
        {
            return ServerError.EINVAL;
        }

        return Change(connection, header, transaction, XenstoreMessageType.Remove, absolute, null, null);
    }

    private ServerError SetPermissions(ServerConnection connection, in XenstoreMessageHeader header, ServerTransaction? transaction, ReadOnlySpan<byte> payload)
    {
        if (!RequestPayload.TakePath(connection, ref payload, out ReadOnlySpan<byte> absolute)
            || !XenstorePermissions.TryParseWire(payload, out XenstorePermissions? permissions))
        {
            return ServerError.EINVAL;
        }

        if (!connection.IsPrivileged && permissions!.Entries.Count > _options.MaxPermissionsPerNode)
        {
            return ServerError.ENOSPC;
        }

        return Change(connection, header, transaction, XenstoreMessageType.SetPermissions, absolute, null, permissions);
    }

    /// <summary>Applies a change to the transaction's view or to the live tree, fires watches (live only) and replies.</summary>
    private ServerError Change(ServerConnection connection, in XenstoreMessageHeader header, ServerTransaction? transaction,
        XenstoreMessageType type, ReadOnlySpan<byte> absolute, byte[]? value, XenstorePermissions? permissions)
    {
        if (transaction is not null && !connection.IsPrivileged && !_quotas.FitsTransactionQuota(transaction, type, absolute))
        {
            // Checked before the edit, so that the refused change leaves the transaction's view and counts as they were.
            transaction.Failed = true;
            return ServerError.ENOSPC;
        }

        _editor.Reset(connection, transaction);
        XenstoreNode root = transaction?.Root ?? _root;
        XenstoreNode before = root;
        ServerError error = type switch
        {
            XenstoreMessageType.Write => _editor.EditWrite(ref root, absolute, value),
            XenstoreMessageType.MakeDirectory => _editor.EditWrite(ref root, absolute, null),
            XenstoreMessageType.Remove => _editor.EditRemove(ref root, absolute),
            _ => _editor.EditSetPermissions(ref root, absolute, permissions!),
        };

        if (error == ServerError.ENOENT && type == XenstoreMessageType.SetPermissions)
        {
            error = MissingError(connection, before, absolute);
        }

        if (error != ServerError.None)
        {
            return error;
        }

        if (transaction is not null)
        {
            transaction.Root = root;
            NodeQuotas.Touch(transaction, absolute);
            if (_editor.CreatedUnderLength > 0)
            {
                NodeQuotas.Touch(transaction, absolute[.._editor.CreatedUnderLength]);
            }

            if (type == XenstoreMessageType.Remove)
            {
                NodeQuotas.Touch(transaction, absolute[..Math.Max(1, absolute.LastIndexOf((byte)'/'))]);
            }

            if (_editor.Changed)
            {
                transaction.Record(new ServerTransactionOperation(type, Encoding.ASCII.GetString(absolute), value, permissions));
            }
        }
        else
        {
            _root = root;
            if (_editor.Changed)
            {
                if (type == XenstoreMessageType.Remove)
                {
                    _watches.FireRemoved(absolute, _editor.Removed!);
                }
                else
                {
                    _watches.FireChanged(absolute, TreeLookup.Lookup(root, absolute)!);
                }
            }
        }

        connection.AppendReply(header, ServerReplies.Ok);
        return ServerError.None;
    }

    private ServerError Directory(ServerConnection connection, in XenstoreMessageHeader header, ServerTransaction? transaction, ReadOnlySpan<byte> payload)
    {
        ServerError error = FindReadable(connection, transaction, ref payload, out XenstoreNode? node);
        if (error != ServerError.None)
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
                return ServerError.E2BIG;
            }

            child.Name.CopyTo(reply[length..]);
            length += child.Name.Length;
            reply[length++] = 0;
        }

        connection.AppendReply(header, reply[..length]);
        return ServerError.None;
    }

    /// <summary>
    /// DIRECTORY_PART: the generation of the node, then the children from a byte offset into the list of
    /// nul-terminated names, whole names only; an extra nul marks the end of the list.
    /// </summary>
    private ServerError DirectoryPart(ServerConnection connection, in XenstoreMessageHeader header, ServerTransaction? transaction, ReadOnlySpan<byte> payload)
    {
        if (!RequestPayload.TakePath(connection, ref payload, out ReadOnlySpan<byte> absolute)
            || !RequestPayload.TakeString(ref payload, out ReadOnlySpan<byte> offsetText)
            || !ServerConnection.TryParseNumber(offsetText, out ulong offset))
        {
            return ServerError.EINVAL;
        }

        ServerError error = FindReadable(connection, transaction, absolute, out XenstoreNode? node);
        if (error != ServerError.None)
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
            return ServerError.EINVAL;
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
        return ServerError.None;
    }

    private ServerError GetPermissions(ServerConnection connection, in XenstoreMessageHeader header, ServerTransaction? transaction, ReadOnlySpan<byte> payload)
    {
        ServerError error = FindReadable(connection, transaction, ref payload, out XenstoreNode? node);
        if (error != ServerError.None)
        {
            return error;
        }

        int length = node!.Permissions.WriteWire(connection.ReplyScratch);
        connection.AppendReply(header, connection.ReplyScratch.AsSpan(0, length));
        return ServerError.None;
    }

    /// <summary>The node a request's path names, when the caller may read it (EINVAL without a path).</summary>
    private ServerError FindReadable(ServerConnection connection, ServerTransaction? transaction, ref ReadOnlySpan<byte> payload, out XenstoreNode? node)
    {
        node = null;
        return RequestPayload.TakePath(connection, ref payload, out ReadOnlySpan<byte> absolute)
            ? FindReadable(connection, transaction, absolute, out node)
            : ServerError.EINVAL;
    }

    private ServerError FindReadable(ServerConnection connection, ServerTransaction? transaction, ReadOnlySpan<byte> absolute, out XenstoreNode? node)
    {
        XenstoreNode root = transaction?.Root ?? _root;
        node = null;
        if (!_quotas.TryTouch(connection, transaction, absolute))
        {
            return ServerError.ENOSPC;
        }

        node = TreeLookup.Lookup(root, absolute);
        if (node is null)
        {
            return MissingError(connection, root, absolute);
        }

        return _rights.CanRead(connection, node) ? ServerError.None : ServerError.EACCES;
    }
}
