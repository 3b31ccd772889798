using System.Runtime.CompilerServices;

namespace VirtualDevices.Xen.Xenstore.Client;

/// <summary>Node-level helpers over <see cref="IXenstoreStore"/> for callers that think in items (cmdlets, the Xs: drive).</summary>
public static class XenstoreStoreExtensions
{
    /// <summary>Reads a node's value and the names of its children.</summary>
    /// <param name="store">The store (a client or a transaction).</param>
    /// <param name="path">The node.</param>
    /// <param name="cancellationToken">Stops waiting.</param>
    public static async ValueTask<XenstoreItem> GetItemAsync(this IXenstoreStore store, string path, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(store);
        byte[] value = await store.ReadAsync(path, cancellationToken).ConfigureAwait(false);
        IReadOnlyList<string> children = await store.ListAsync(path, cancellationToken).ConfigureAwait(false);
        return new XenstoreItem(path, value, children) { Store = store as XenstoreClient };
    }

    /// <summary>
    /// The children of a node as items, depth first, like <c>xenstore-ls</c>: with <paramref name="depth"/> 0 only the
    /// direct children, with a larger depth their descendants too. Children removed while listing are skipped.
    /// </summary>
    /// <param name="store">The store.</param>
    /// <param name="path">The node whose children are listed.</param>
    /// <param name="depth">How many levels below the children to include (0 for the children alone).</param>
    /// <param name="cancellationToken">Stops listing.</param>
    public static async IAsyncEnumerable<XenstoreItem> GetChildItemsAsync(this IXenstoreStore store, string path, int depth,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(store);
        foreach (string name in await store.ListAsync(path, cancellationToken).ConfigureAwait(false))
        {
            string child = XenstorePath.Combine(path, name);
            XenstoreItem item;
            try
            {
                item = await store.GetItemAsync(child, cancellationToken).ConfigureAwait(false);
            }
            catch (XenstoreException e) when (e.ErrorName == "ENOENT")
            {
                continue; // removed since the listing: not an error of the listing
            }

            yield return item;
            if (depth > 0 && item.HasChildren)
            {
                await foreach (XenstoreItem descendant in store.GetChildItemsAsync(child, depth - 1, cancellationToken).ConfigureAwait(false))
                {
                    yield return descendant;
                }
            }
        }
    }
}
