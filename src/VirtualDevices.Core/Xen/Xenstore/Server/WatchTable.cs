using VirtualDevices.Xen.Xenstore.Protocol;

namespace VirtualDevices.Xen.Xenstore.Server;

/// <summary>
/// The server's watches: registration (WATCH, UNWATCH, with the per-domain quota), and firing: a change fires the
/// watches on its path and its ancestors, a removal also those inside the removed subtree, and the special paths
/// (<c>@introduceDomain</c>, <c>@releaseDomain</c>) their own. Used under the database's lock.
/// </summary>
/// <remarks>
/// Registration and removal are keyed: each connection's watches are a dictionary by (path, token), which answers
/// "already registered?" and finds the watch to remove, and the list firing walks (in registration order, as
/// xenstored fires) is linked, so a watch leaves it in O(1). Registering and then removing n watches on one
/// connection costs O(n); a scan per registration made 100,000 take 38 s, and a scan per removal was as quadratic.
/// </remarks>
internal sealed class WatchTable
{
    private readonly XenstoreServerOptions _options;
    private readonly DomainRights _rights;
    private readonly LinkedList<ServerWatch> _all = new();
    private readonly Dictionary<ServerConnection, Dictionary<string, ServerWatch>> _byConnection = new(ReferenceEqualityComparer.Instance);

    internal WatchTable(XenstoreServerOptions options, DomainRights rights)
    {
        _options = options;
        _rights = rights;
    }

    /// <summary>The connection whose request is running: events for it go out with its reply, others are flushed.</summary>
    internal ServerConnection? Current { get; set; }

    /// <summary>How many watches are registered, on every connection.</summary>
    internal int Count => _all.Count;

    internal ServerError Watch(ServerConnection connection, in XenstoreMessageHeader header, ReadOnlySpan<byte> payload)
    {
        if (!RequestPayload.TakeString(ref payload, out ReadOnlySpan<byte> path) || !RequestPayload.TakeString(ref payload, out ReadOnlySpan<byte> token))
        {
            return ServerError.EINVAL;
        }

        scoped ReadOnlySpan<byte> absolute;
        if (path.Length > 0 && path[0] == (byte)'@')
        {
            if (path.Length > XenstoreLimits.RelativePathMax || !XenstorePath.IsValid(path))
            {
                return ServerError.EINVAL;
            }

            absolute = path;
        }
        else if (!RequestPayload.TryResolve(connection, path, out absolute))
        {
            return ServerError.EINVAL;
        }

        string key = ServerConnection.WatchKey(path, token);
        if (!_byConnection.TryGetValue(connection, out Dictionary<string, ServerWatch>? mine))
        {
            mine = new Dictionary<string, ServerWatch>(StringComparer.Ordinal);
            _byConnection.Add(connection, mine);
        }

        if (mine.ContainsKey(key))
        {
            return ServerError.EEXIST;
        }

        if (!connection.IsPrivileged && CountWatches(connection.DomainId) >= _options.MaxWatchesPerDomain)
        {
            return ServerError.E2BIG;
        }

        var watch = new ServerWatch(connection, absolute.ToArray(), path.ToArray(), token.ToArray());
        mine.Add(key, watch);
        watch.Node = _all.AddLast(watch);
        connection.AppendReply(header, ServerReplies.Ok);

        // A new watch fires once straight away, with the path as registered.
        connection.Append(XenstoreMessageType.WatchEvent, 0, 0, watch.RequestedPath, [0], watch.Token, [0]);
        return ServerError.None;
    }

    /// <summary>Removes all of a connection's watches (it closed, or reset its watches).</summary>
    internal void Forget(ServerConnection connection)
    {
        if (_byConnection.Remove(connection, out Dictionary<string, ServerWatch>? mine))
        {
            foreach (ServerWatch watch in mine.Values)
            {
                _all.Remove(watch.Node!);
            }
        }
    }

    /// <summary>How many watches <paramref name="connection"/> has.</summary>
    internal int CountOf(ServerConnection connection) => _byConnection.TryGetValue(connection, out Dictionary<string, ServerWatch>? mine) ? mine.Count : 0;

    private int CountWatches(int domainId)
    {
        int count = 0;
        foreach ((ServerConnection connection, Dictionary<string, ServerWatch> mine) in _byConnection)
        {
            if (connection.DomainId == domainId)
            {
                count += mine.Count;
            }
        }

        return count;
    }

    internal ServerError Unwatch(ServerConnection connection, in XenstoreMessageHeader header, ReadOnlySpan<byte> payload)
    {
        if (!RequestPayload.TakeString(ref payload, out ReadOnlySpan<byte> path) || !RequestPayload.TakeString(ref payload, out ReadOnlySpan<byte> token))
        {
            return ServerError.EINVAL;
        }

        if (!_byConnection.TryGetValue(connection, out Dictionary<string, ServerWatch>? mine)
            || !mine.Remove(ServerConnection.WatchKey(path, token), out ServerWatch? watch))
        {
            return ServerError.ENOENT;
        }

        _all.Remove(watch.Node!);
        connection.AppendReply(header, ServerReplies.Ok);
        return ServerError.None;
    }

    /// <summary>True if <paramref name="child"/> is <paramref name="parent"/> or below it.</summary>
    private static bool IsAtOrBelow(ReadOnlySpan<byte> child, ReadOnlySpan<byte> parent) =>
        parent.Length == 1 ? child.Length > 0 && child[0] == (byte)'/'
            : child.StartsWith(parent) && (child.Length == parent.Length || child[parent.Length] == (byte)'/');

    /// <summary>Fires the watches on <paramref name="absolute"/> and its ancestors.</summary>
    internal void FireChanged(ReadOnlySpan<byte> absolute, XenstoreNode node)
    {
        foreach (ServerWatch watch in _all)
        {
            if (!watch.IsSpecial && IsAtOrBelow(absolute, watch.AbsolutePath) && _rights.CanRead(watch.Connection, node))
            {
                Deliver(watch, absolute);
            }
        }
    }

    /// <summary>
    /// Fires the watches on a removed subtree: those on it or its ancestors see its path, those inside it see their
    /// own path (the event path must always be at or below the watched path).
    /// </summary>
    internal void FireRemoved(ReadOnlySpan<byte> absolute, XenstoreNode removed)
    {
        foreach (ServerWatch watch in _all)
        {
            if (watch.IsSpecial || !_rights.CanRead(watch.Connection, removed))
            {
                continue;
            }

            if (IsAtOrBelow(absolute, watch.AbsolutePath))
            {
                Deliver(watch, absolute);
            }
            else if (IsAtOrBelow(watch.AbsolutePath, absolute))
            {
                Deliver(watch, watch.AbsolutePath);
            }
        }
    }

    internal void FireSpecial(byte[] special)
    {
        foreach (ServerWatch watch in _all)
        {
            // Like xenstored's default permissions on the special nodes: only privileged watchers hear of domains.
            if (watch.IsSpecial && watch.Connection.IsPrivileged && watch.AbsolutePath.AsSpan().SequenceEqual(special))
            {
                Deliver(watch, special);
            }
        }
    }

    private void Deliver(ServerWatch watch, ReadOnlySpan<byte> absolute)
    {
        ServerConnection target = watch.Connection;
        ReadOnlySpan<byte> reported = absolute;
        if (watch.IsRelative && absolute.StartsWith(target.DomainPrefix))
        {
            reported = absolute[target.DomainPrefix.Length..];
        }

        target.Append(XenstoreMessageType.WatchEvent, 0, 0, reported, [0], watch.Token, [0]);
        if (!ReferenceEquals(target, Current))
        {
            target.ScheduleFlush();
        }
    }
}
