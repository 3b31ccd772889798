
namespace VirtualDevices.Xen.Xenstore.Server;

/// <summary>
/// The tree edits (write, make directory, remove, set permissions) on an immutable tree: each returns a new root
/// sharing every untouched subtree, checks the caller's rights and the entry quota, and counts the entries. They fire
/// no watches and write no replies; what they did is left in <see cref="Changed"/>, <see cref="Removed"/> and
/// <see cref="CreatedUnderLength"/> for the caller. Used under the database's lock, one edit at a time.
/// </summary>
internal sealed class TreeEditor
{
    private readonly XenstoreServerOptions _options;
    private readonly DomainRights _rights;
    private readonly NodeQuotas _quotas;
    private long _generation;

    internal TreeEditor(XenstoreServerOptions options, DomainRights rights, NodeQuotas quotas)
    {
        _options = options;
        _rights = rights;
        _quotas = quotas;
    }

    /// <summary>Whose edit this is.</summary>
    internal ServerConnection Connection { get; private set; } = null!;

    /// <summary>The transaction the edit is in, or null for the live tree.</summary>
    internal ServerTransaction? Transaction { get; private set; }

    /// <summary>The length of the path under which a write created nodes (-1 when it created none).</summary>
    internal int CreatedUnderLength { get; private set; } = -1;

    /// <summary>Whether the edit changed anything.</summary>
    internal bool Changed { get; private set; }

    /// <summary>The subtree a remove took away.</summary>
    internal XenstoreNode? Removed { get; private set; }

    /// <summary>Starts an edit for <paramref name="connection"/>.</summary>
    internal void Reset(ServerConnection connection, ServerTransaction? transaction)
    {
        Connection = connection;
        Transaction = transaction;
        CreatedUnderLength = -1;
        Changed = false;
        Removed = null;
    }

    private long NextGeneration() => ++_generation;

    /// <summary>Writes (or, with a null value, makes sure of) the node at <paramref name="absolute"/>, creating parents.</summary>
    internal ServerError EditWrite(ref XenstoreNode root, ReadOnlySpan<byte> absolute, byte[]? value)
    {
        ServerError error = WriteBelow(root, absolute, absolute[1..], value, out XenstoreNode result);
        if (error == ServerError.None)
        {
            root = result;
        }

        return error;
    }

    private ServerError WriteBelow(XenstoreNode node, ReadOnlySpan<byte> absolute, ReadOnlySpan<byte> rest, byte[]? value, out XenstoreNode result)
    {
        result = node;
        ServerConnection connection = Connection;
        if (rest.IsEmpty)
        {
            if (!_rights.CanWrite(connection, node))
            {
                return ServerError.EACCES;
            }

            if (value is not null)
            {
                result = node.WithValue(value, NextGeneration());
                Changed = true;
            }

            return ServerError.None;
        }

        int slash = rest.IndexOf((byte)'/');
        ReadOnlySpan<byte> segment = slash < 0 ? rest : rest[..slash];
        ReadOnlySpan<byte> below = slash < 0 ? default : rest[(slash + 1)..];
        int index = node.FindChild(segment);
        if (index >= 0)
        {
            XenstoreNode child = node.Children[index];
            ServerError error = WriteBelow(child, absolute, below, value, out XenstoreNode newChild);
            if (error == ServerError.None && !ReferenceEquals(child, newChild))
            {
                result = node.WithChildReplaced(index, newChild);
            }

            return error;
        }

        // Creation: the closest existing ancestor must be writable; new nodes inherit its permissions, and an
        // unprivileged creator owns them (and pays for them in its quota).
        if (!_rights.CanWrite(connection, node))
        {
            return ServerError.EACCES;
        }

        XenstorePermissions permissions = connection.IsPrivileged ? node.Permissions : node.Permissions.WithOwner(connection.DomainId);
        int created = 1 + rest.Count((byte)'/');
        if (!connection.IsPrivileged && _quotas.EntryCount(connection.DomainId, Transaction) + created > _options.MaxEntriesPerDomain)
        {
            return ServerError.ENOSPC;
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

        _quotas.AddEntries(permissions.Owner, created, Transaction);
        Changed = true;
        CreatedUnderLength = Math.Max(1, absolute.Length - rest.Length - 1);
        result = node.WithChildInserted(~index, chain, generation);
        return ServerError.None;
    }

    /// <summary>Removes the node at <paramref name="absolute"/> and its subtree; fine if it is missing but its parent exists.</summary>
    internal ServerError EditRemove(ref XenstoreNode root, ReadOnlySpan<byte> absolute)
    {
        if (absolute.Length == 1)
        {
            return ServerError.EINVAL;
        }

        ServerError error = RemoveBelow(root, absolute[1..], out XenstoreNode result);
        if (error == ServerError.None)
        {
            root = result;
        }

        return error;
    }

    private ServerError RemoveBelow(XenstoreNode node, ReadOnlySpan<byte> rest, out XenstoreNode result)
    {
        result = node;
        int slash = rest.IndexOf((byte)'/');
        ReadOnlySpan<byte> segment = slash < 0 ? rest : rest[..slash];
        int index = node.FindChild(segment);
        if (slash < 0)
        {
            if (index < 0)
            {
                return ServerError.None;
            }

            XenstoreNode target = node.Children[index];
            if (!_rights.CanWrite(Connection, target))
            {
                return ServerError.EACCES;
            }

            var owners = new Dictionary<int, int>();
            target.CountOwners(owners);
            foreach ((int owner, int count) in owners)
            {
                _quotas.AddEntries(owner, -count, Transaction);
            }

            Changed = true;
            Removed = target;
            result = node.WithChildRemoved(index, NextGeneration());
            return ServerError.None;
        }

        if (index < 0)
        {
            return ServerError.ENOENT;
        }

        XenstoreNode child = node.Children[index];
        ServerError error = RemoveBelow(child, rest[(slash + 1)..], out XenstoreNode newChild);
        if (error == ServerError.None && !ReferenceEquals(child, newChild))
        {
            result = node.WithChildReplaced(index, newChild);
        }

        return error;
    }

    internal ServerError EditSetPermissions(ref XenstoreNode root, ReadOnlySpan<byte> absolute, XenstorePermissions permissions)
    {
        ServerError error = SetPermissionsBelow(root, absolute[1..], permissions, out XenstoreNode result);
        if (error == ServerError.None)
        {
            root = result;
        }

        return error;
    }

    private ServerError SetPermissionsBelow(XenstoreNode node, ReadOnlySpan<byte> rest, XenstorePermissions permissions, out XenstoreNode result)
    {
        result = node;
        ServerConnection connection = Connection;
        if (rest.IsEmpty)
        {
            if (!_rights.IsOwner(connection, node))
            {
                return ServerError.EACCES;
            }

            if (!connection.IsPrivileged && permissions.Owner != node.Permissions.Owner)
            {
                // Only a privileged domain may give a node away (it would escape the giver's quota).
                return ServerError.EPERM;
            }

            if (permissions.Owner != node.Permissions.Owner)
            {
                _quotas.AddEntries(node.Permissions.Owner, -1, Transaction);
                _quotas.AddEntries(permissions.Owner, 1, Transaction);
            }

            Changed = true;
            result = node.WithPermissions(permissions, NextGeneration());
            return ServerError.None;
        }

        int slash = rest.IndexOf((byte)'/');
        int index = node.FindChild(slash < 0 ? rest : rest[..slash]);
        if (index < 0)
        {
            return ServerError.ENOENT;
        }

        XenstoreNode child = node.Children[index];
        ServerError error = SetPermissionsBelow(child, slash < 0 ? default : rest[(slash + 1)..], permissions, out XenstoreNode newChild);
        if (error == ServerError.None && !ReferenceEquals(child, newChild))
        {
            result = node.WithChildReplaced(index, newChild);
        }

        return error;
    }
}
