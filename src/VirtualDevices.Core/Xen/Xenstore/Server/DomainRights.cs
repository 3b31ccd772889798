namespace VirtualDevices.Xen.Xenstore.Server;

/// <summary>
/// Which domains the server talks to, and what each may do with a node: its permissions, widened by SET_TARGET (a
/// device model acts with its guest's rights too). Used under the database's lock.
/// </summary>
internal sealed class DomainRights
{
    private readonly HashSet<int> _introduced = [];
    private readonly Dictionary<int, int> _targets = [];

    /// <summary>True for dom0 and for every introduced domain.</summary>
    internal bool IsIntroduced(int domainId) => domainId == 0 || _introduced.Contains(domainId);

    /// <summary>Marks a domain introduced; false for dom0 or if it already was.</summary>
    internal bool Introduce(int domainId) => domainId != 0 && _introduced.Add(domainId);

    /// <summary>Forgets a domain and its target; false if it was not introduced.</summary>
    internal bool Release(int domainId)
    {
        if (!_introduced.Remove(domainId))
        {
            return false;
        }

        _targets.Remove(domainId);
        return true;
    }

    /// <summary>SET_TARGET: <paramref name="domainId"/> acts with <paramref name="target"/>'s rights too.</summary>
    internal void SetTarget(int domainId, int target) => _targets[domainId] = target;

    internal XenstoreAccess AccessOf(ServerConnection connection, XenstoreNode node)
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

    internal bool IsOwner(ServerConnection connection, XenstoreNode node) =>
        connection.IsPrivileged || node.Permissions.Owner == connection.DomainId
        || (_targets.TryGetValue(connection.DomainId, out int target) && node.Permissions.Owner == target);

    internal bool CanRead(ServerConnection connection, XenstoreNode node) => (AccessOf(connection, node) & XenstoreAccess.Read) != 0;

    internal bool CanWrite(ServerConnection connection, XenstoreNode node) => (AccessOf(connection, node) & XenstoreAccess.Write) != 0;

}
