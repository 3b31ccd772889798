namespace VirtualDevices.Xen.Xenstore.Server;

/// <summary>
/// One node of the embedded server's tree. Nodes are immutable: a change copies the node and its ancestors, so a
/// transaction starts by keeping the current root (no copy of the database) and a commit without interference is
/// a pointer swap. Children are kept sorted by name, so a lookup is a binary search over the request's bytes and
/// allocates nothing.
/// </summary>
internal sealed class XenstoreNode
{
    internal static readonly XenstoreNode[] NoChildren = [];

    internal XenstoreNode(byte[] name, byte[] value, XenstorePermissions permissions, XenstoreNode[] children, long generation)
    {
        Name = name;
        Value = value;
        Permissions = permissions;
        Children = children;
        Generation = generation;
    }

    /// <summary>The last path component, ASCII.</summary>
    internal byte[] Name { get; }

    /// <summary>The value; never modified once the node is built.</summary>
    internal byte[] Value { get; }

    internal XenstorePermissions Permissions { get; }

    /// <summary>Children sorted by <see cref="Name"/> (ordinal).</summary>
    internal XenstoreNode[] Children { get; }

    /// <summary>
    /// Changes when this node's own value, permissions or set of children change (not when a descendant's content
    /// does): what transaction conflict detection compares, and the <c>gencnt</c> of DIRECTORY_PART.
    /// </summary>
    internal long Generation { get; }

    /// <summary>The index of the child named <paramref name="name"/>, or the bitwise complement of where it would go.</summary>
    internal int FindChild(ReadOnlySpan<byte> name)
    {
        XenstoreNode[] children = Children;
        int low = 0;
        int high = children.Length - 1;
        while (low <= high)
        {
            int middle = (int)((uint)(low + high) >> 1);
            int order = children[middle].Name.AsSpan().SequenceCompareTo(name);
            if (order == 0)
            {
                return middle;
            }

            if (order < 0)
            {
                low = middle + 1;
            }
            else
            {
                high = middle - 1;
            }
        }

        return ~low;
    }

    internal XenstoreNode WithValue(byte[] value, long generation) => new(Name, value, Permissions, Children, generation);

    internal XenstoreNode WithPermissions(XenstorePermissions permissions, long generation) => new(Name, Value, permissions, Children, generation);

    /// <summary>Replaces a child whose own content changed; this node's generation stays, its child set being the same.</summary>
    internal XenstoreNode WithChildReplaced(int index, XenstoreNode child)
    {
        var children = (XenstoreNode[])Children.Clone();
        children[index] = child;
        return new XenstoreNode(Name, Value, Permissions, children, Generation);
    }

    internal XenstoreNode WithChildInserted(int index, XenstoreNode child, long generation)
    {
        var children = new XenstoreNode[Children.Length + 1];
        Array.Copy(Children, 0, children, 0, index);
        children[index] = child;
        Array.Copy(Children, index, children, index + 1, Children.Length - index);
        return new XenstoreNode(Name, Value, Permissions, children, generation);
    }

    internal XenstoreNode WithChildRemoved(int index, long generation)
    {
        XenstoreNode[] children = Children.Length == 1 ? NoChildren : new XenstoreNode[Children.Length - 1];
        Array.Copy(Children, 0, children, 0, index);
        Array.Copy(Children, index + 1, children, index, Children.Length - index - 1);
        return new XenstoreNode(Name, Value, Permissions, children, generation);
    }

    /// <summary>Counts the nodes of this subtree per owner domain (for the entry quota when a subtree goes away).</summary>
    internal void CountOwners(Dictionary<int, int> counts)
    {
        counts[Permissions.Owner] = counts.GetValueOrDefault(Permissions.Owner) + 1;
        foreach (XenstoreNode child in Children)
        {
            child.CountOwners(counts);
        }
    }
}
