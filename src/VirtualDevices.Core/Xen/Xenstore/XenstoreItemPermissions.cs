namespace VirtualDevices.Xen.Xenstore;

/// <summary>The permissions of one node, as a pipeline object.</summary>
/// <param name="NodePath">The node's path (named as <see cref="XenstoreItem.NodePath"/>, for the same reason).</param>
/// <param name="Permissions">Its permissions.</param>
public sealed record XenstoreItemPermissions(string NodePath, XenstorePermissions Permissions)
{
    /// <summary>The owning domain.</summary>
    public int Owner => Permissions.Owner;

    /// <summary>The access of domains not listed.</summary>
    public XenstoreAccess DefaultAccess => Permissions.DefaultAccess;

    /// <summary>The permissions in xenstore-chmod notation (<c>n0 r1</c>...).</summary>
    public string Text => Permissions.ToString();
}
