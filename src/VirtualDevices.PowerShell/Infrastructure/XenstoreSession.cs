using VirtualDevices.PowerShell.Providers;

namespace VirtualDevices.PowerShell.Infrastructure;

/// <summary>
/// Finds the xenstore a command talks to and the node a path names. A plain xenstore path (<c>/local/domain</c>, or
/// relative to the connection's domain) goes to the store given with -Store, else the session's
/// (<see cref="XenstoreConnections.ResolveAsync"/>). A PowerShell path on a Xenstore drive (<c>Xs:/local</c>,
/// <c>Xt:domain</c>, <c>Xenstore::/local</c>) goes to that drive's store.
/// </summary>
internal static class XenstoreSession
{
    /// <summary>Resolves the store for plain xenstore paths; call on the pipeline thread.</summary>
    public static XenstoreClient Resolve(ModuleSession session, XenstoreClient? explicitStore) =>
        session.Xenstore.ResolveAsync(explicitStore).AsTask().GetAwaiter().GetResult();

    /// <summary>
    /// The store and node a command's path names; call on the pipeline thread.
    /// </summary>
    /// <exception cref="ArgumentException">The path is on a drive of another provider.</exception>
    public static (XenstoreClient Store, string Node) Locate(PSCmdlet cmdlet, ModuleSession session, string path, XenstoreClient? explicitStore)
    {
        ArgumentNullException.ThrowIfNull(path);
        string trimmed = path.Trim();
        bool providerQualified = trimmed.Contains("::", StringComparison.Ordinal);
        int colon = trimmed.IndexOf(':', StringComparison.Ordinal);
        bool driveQualified = !providerQualified && colon > 0 && trimmed.AsSpan(0, colon).IndexOfAny("/@\\") < 0;
        if (!providerQualified && !driveQualified)
        {
            return (Resolve(session, explicitStore), Clean(trimmed));
        }

        string providerPath = cmdlet.SessionState.Path.GetUnresolvedProviderPathFromPSPath(trimmed, out ProviderInfo provider, out PSDriveInfo drive);
        if (!string.Equals(provider.Name, XenstoreProvider.ProviderName, StringComparison.OrdinalIgnoreCase))
        {
            throw new ArgumentException($"'{path}' is a path of the {provider.Name} provider, not a xenstore path.", nameof(path));
        }

        (XenstoreDriveInfo? owner, string node) = XenstoreProvider.SplitProviderPath(providerPath, cmdlet.SessionState);
        XenstoreClient? driveStore = owner?.Store ?? (drive as XenstoreDriveInfo)?.Store;
        return (Resolve(session, driveStore ?? explicitStore), node);
    }

    /// <summary>A xenstore path with forward slashes, no doubled or trailing slash (except the root itself).</summary>
    public static string Clean(string path)
    {
        string node = path.Replace('\\', '/');
        while (node.Contains("//", StringComparison.Ordinal))
        {
            node = node.Replace("//", "/", StringComparison.Ordinal);
        }

        return node.Length > 1 ? node.TrimEnd('/') : node;
    }
}
