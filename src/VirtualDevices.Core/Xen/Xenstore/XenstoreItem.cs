using System.Text;
using VirtualDevices.Xen.Xenstore.Client;

namespace VirtualDevices.Xen.Xenstore;

/// <summary>A xenstore node as a pipeline object: its path, its value, and the names of its children.</summary>
public sealed class XenstoreItem
{
    /// <summary>Describes a node.</summary>
    /// <param name="path">The node's path.</param>
    /// <param name="bytes">Its value.</param>
    /// <param name="children">The names of its children.</param>
    public XenstoreItem(string path, byte[] bytes, IReadOnlyList<string> children)
    {
        NodePath = path;
        Bytes = bytes;
        Children = children;
    }

    /// <summary>
    /// The node's path. Not named Path: piped to PowerShell's item cmdlets (Get-Content, Remove-Item), a Path property
    /// would bind to their -Path and be read as a file-system path, before PSPath could bind to -LiteralPath.
    /// </summary>
    public string NodePath { get; }

    /// <summary>
    /// The connection the node was read from, when it was read outside a transaction; commands that take items from
    /// the pipeline use it, so items of one store are never applied to another.
    /// </summary>
    public XenstoreClient? Store { get; init; }

    /// <summary>The last component of the path.</summary>
    public string Name => XenstorePath.GetName(NodePath) is { Length: > 0 } name ? name : NodePath;

    /// <summary>The value as text (xenstore values are bytes, conventionally UTF-8 or ASCII).</summary>
    public string Value => Encoding.UTF8.GetString(Bytes);

    /// <summary>The value's bytes.</summary>
    public byte[] Bytes { get; }

    /// <summary>The names of the node's children.</summary>
    public IReadOnlyList<string> Children { get; }

    /// <summary>True when the node has children.</summary>
    public bool HasChildren => Children.Count > 0;

    /// <summary>
    /// The node's path, as a file's text form is its path: an item given where a path is taken (by position, or
    /// `-Path $item`) is converted to its text form, which must then name the node.
    /// </summary>
    public override string ToString() => NodePath;
}
