namespace VirtualDevices.Xen.Xenstore.Client;

/// <summary>
/// The node operations, outside a transaction (<see cref="XenstoreClient"/>) or inside one
/// (<see cref="XenstoreTransaction"/>): what a provider or a cmdlet needs to read and change the tree.
/// Paths are absolute, or relative to the connection's domain path.
/// </summary>
public interface IXenstoreStore
{
    /// <summary>Reads a node's value.</summary>
    /// <exception cref="XenstoreException">ENOENT if it does not exist, EACCES if it may not be read.</exception>
    ValueTask<byte[]> ReadAsync(string path, CancellationToken cancellationToken = default);

    /// <summary>Reads a node's value, or null if the node does not exist.</summary>
    ValueTask<byte[]?> TryReadAsync(string path, CancellationToken cancellationToken = default);

    /// <summary>Reads a node's value as UTF-8 text.</summary>
    ValueTask<string> ReadStringAsync(string path, CancellationToken cancellationToken = default);

    /// <summary>Reads a node's value as UTF-8 text, or null if the node does not exist.</summary>
    ValueTask<string?> TryReadStringAsync(string path, CancellationToken cancellationToken = default);

    /// <summary>Writes a node's value, creating the node and its missing parents.</summary>
    ValueTask WriteAsync(string path, ReadOnlyMemory<byte> value, CancellationToken cancellationToken = default);

    /// <summary>Writes a node's value as UTF-8 text, creating the node and its missing parents.</summary>
    ValueTask WriteAsync(string path, string value, CancellationToken cancellationToken = default);

    /// <summary>Creates a node (and parents) with an empty value; an existing node is left as it is.</summary>
    ValueTask MakeDirectoryAsync(string path, CancellationToken cancellationToken = default);

    /// <summary>Removes a node and its subtree; a missing node is fine if its parent exists.</summary>
    ValueTask RemoveAsync(string path, CancellationToken cancellationToken = default);

    /// <summary>Lists a node's children (names only), however many there are.</summary>
    ValueTask<IReadOnlyList<string>> ListAsync(string path, CancellationToken cancellationToken = default);

    /// <summary>True if the node exists.</summary>
    ValueTask<bool> ExistsAsync(string path, CancellationToken cancellationToken = default);

    /// <summary>Reads a node's permissions.</summary>
    ValueTask<XenstorePermissions> GetPermissionsAsync(string path, CancellationToken cancellationToken = default);

    /// <summary>Sets a node's permissions (owner or dom0 only).</summary>
    ValueTask SetPermissionsAsync(string path, XenstorePermissions permissions, CancellationToken cancellationToken = default);
}
