using System.Text;

namespace VirtualDevices.Xen.Xenstore.Server;

/// <summary>Finds nodes by path in a tree (the live one or a transaction's view).</summary>
internal static class TreeLookup
{
    internal static XenstoreNode? Lookup(XenstoreNode root, ReadOnlySpan<byte> absolute)
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

    internal static XenstoreNode? Lookup(XenstoreNode root, string absolute)
    {
        Span<byte> bytes = stackalloc byte[absolute.Length];
        Encoding.ASCII.GetBytes(absolute, bytes);
        return Lookup(root, bytes);
    }

    /// <summary>The length of the closest existing ancestor's path (what a write that creates records as created under).</summary>
    internal static int ClosestExistingAncestorLength(XenstoreNode root, ReadOnlySpan<byte> absolute)
    {
        ClosestExistingAncestor(root, absolute, out int missing);
        return Math.Max(1, absolute.Length - missing - 1);
    }

    /// <summary>The deepest node that exists on <paramref name="absolute"/>'s way down from the root.</summary>
    /// <param name="root">The tree's root.</param>
    /// <param name="absolute">An absolute path.</param>
    /// <param name="missing">The length of the part of the path below that node (0 when the whole path exists).</param>
    internal static XenstoreNode ClosestExistingAncestor(XenstoreNode root, ReadOnlySpan<byte> absolute, out int missing)
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
}
