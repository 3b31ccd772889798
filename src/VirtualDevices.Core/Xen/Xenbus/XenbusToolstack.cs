using System.Globalization;
using VirtualDevices.Xen.Xenstore;
using VirtualDevices.Xen.Xenstore.Client;

namespace VirtualDevices.Xen.Xenbus;

/// <summary>
/// What the toolstack (libxl, <c>xl</c>) does for a split device before either driver runs: both ends' directories,
/// each owned by its end's domain and readable by the peer, holding the peer's path and domain id and the state
/// Initialising. Done by a privileged connection (dom0), in one transaction, so a driver never sees half a device.
/// </summary>
public static class XenbusToolstack
{
    /// <summary>Creates both ends of a device, with any extra keys the device type needs (a vbd's <c>params</c>...).</summary>
    /// <param name="store">A privileged connection.</param>
    /// <param name="address">The device.</param>
    /// <param name="frontendKeys">Extra keys for the frontend's directory, or null.</param>
    /// <param name="backendKeys">Extra keys for the backend's directory, or null.</param>
    /// <param name="cancellationToken">Abandons the creation (the transaction is not committed).</param>
    /// <exception cref="XenstoreException">The connection may not write there (EACCES), or a quota is exhausted.</exception>
    public static ValueTask CreateAsync(XenstoreClient store, XenbusAddress address,
        IReadOnlyDictionary<string, string>? frontendKeys = null, IReadOnlyDictionary<string, string>? backendKeys = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(address);
        string initialising = ((int)XenbusState.Initialising).ToString(CultureInfo.InvariantCulture);
        return store.RunInTransactionAsync(async (t, ct) =>
        {
            // The directories above each end, readable by that end's domain as libxl makes them (device/ owned by
            // dom0, read for the guest), so a driver can list its devices and a missing one reads as ENOENT, not EACCES.
            await EnsureReadableAsync(t, XenstorePath.GetParent(address.FrontendPath)!, address.FrontendDomainId, ct).ConfigureAwait(false);
            await EnsureReadableAsync(t, XenstorePath.GetParent(address.BackendPath)!, address.BackendDomainId, ct).ConfigureAwait(false);
            await CreateEndAsync(t, address.FrontendPath, address.FrontendDomainId, address.BackendDomainId, new Dictionary<string, string>
            {
                ["backend"] = address.BackendPath,
                ["backend-id"] = address.BackendDomainId.ToString(CultureInfo.InvariantCulture),
                ["state"] = initialising,
            }, frontendKeys, ct).ConfigureAwait(false);
            await CreateEndAsync(t, address.BackendPath, address.BackendDomainId, address.FrontendDomainId, new Dictionary<string, string>
            {
                ["frontend"] = address.FrontendPath,
                ["frontend-id"] = address.FrontendDomainId.ToString(CultureInfo.InvariantCulture),
                ["online"] = "1",
                ["state"] = initialising,
            }, backendKeys, ct).ConfigureAwait(false);
        }, cancellationToken: cancellationToken);
    }

    /// <summary>Removes both ends' directories (what <c>xl</c> does once both ends are Closed, or to force a device away).</summary>
    /// <param name="store">A privileged connection.</param>
    /// <param name="address">The device.</param>
    /// <param name="cancellationToken">Abandons the removal.</param>
    public static ValueTask RemoveAsync(XenstoreClient store, XenbusAddress address, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(address);
        return store.RunInTransactionAsync(async (t, ct) =>
        {
            foreach (string path in new[] { address.FrontendPath, address.BackendPath })
            {
                if (await t.ExistsAsync(path, ct).ConfigureAwait(false))
                {
                    await t.RemoveAsync(path, ct).ConfigureAwait(false);
                }
            }
        }, cancellationToken: cancellationToken);
    }

    private static async ValueTask EnsureReadableAsync(XenstoreTransaction t, string directory, int domainId, CancellationToken cancellationToken)
    {
        // Each missing level from the domain's home down: created by the toolstack, readable by the domain.
        string home = XenstorePath.DomainPath(domainId);
        var missing = new Stack<string>();
        for (string? path = directory; path is not null && path.Length > home.Length && !await t.ExistsAsync(path, cancellationToken).ConfigureAwait(false);
             path = XenstorePath.GetParent(path))
        {
            missing.Push(path);
        }

        var readable = new XenstorePermissions(0, XenstoreAccess.None, new XenstorePermission(domainId, XenstoreAccess.Read));
        foreach (string path in missing)
        {
            await t.MakeDirectoryAsync(path, cancellationToken).ConfigureAwait(false);
            if (domainId != 0)
            {
                await t.SetPermissionsAsync(path, readable, cancellationToken).ConfigureAwait(false);
            }
        }
    }

    private static async ValueTask CreateEndAsync(XenstoreTransaction t, string path, int owner, int peer,
        Dictionary<string, string> keys, IReadOnlyDictionary<string, string>? extra, CancellationToken cancellationToken)
    {
        // The end's domain owns its directory (it writes its state and its keys there); the peer may read it. Each
        // key gets the same permissions explicitly, as libxl does, whatever a server's inheritance rule.
        var permissions = new XenstorePermissions(owner, XenstoreAccess.None, new XenstorePermission(peer, XenstoreAccess.Read));
        await t.MakeDirectoryAsync(path, cancellationToken).ConfigureAwait(false);
        await t.SetPermissionsAsync(path, permissions, cancellationToken).ConfigureAwait(false);
        foreach ((string key, string value) in extra is null ? keys : keys.Concat(extra))
        {
            string node = XenstorePath.Combine(path, key);
            await t.WriteAsync(node, value, cancellationToken).ConfigureAwait(false);
            await t.SetPermissionsAsync(node, permissions, cancellationToken).ConfigureAwait(false);
        }
    }
}
