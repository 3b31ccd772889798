using System.Collections.ObjectModel;
using System.Management.Automation.Provider;
using System.Text;

namespace VirtualDevices.PowerShell.Providers;

/// <summary>
/// The Xenstore provider: xenstore as a drive (Xs:), so that Get-ChildItem, Get-Item, Set-Item, New-Item, Remove-Item,
/// Get-Content, Set-Content and tab completion work on its paths. Every node is both a container (it may have
/// children) and an item with a value.
/// </summary>
/// <remarks>
/// <para>
/// Every drive's root is <c>{Name}/</c> followed by its node (<c>{Xs}/</c> for the default drive Xs:, which shows
/// the session's store; <c>{D1}/local/domain/1/</c> for <c>New-PSDrive D1 -Root /local/domain/1</c>): the name in
/// braces travels in every provider path (PSPath) of its items, so an item piped from a drive to Remove-Item or
/// Set-Item goes back to that drive's own store, never to the session's. Two properties of these paths are what the
/// engine needs: (1) a provider path never starts with '/', because PowerShell reads such a path as a file-system
/// path (Set-Content of a missing node would write a file on the host, as it did); (2) a drive root ends with '/',
/// because the engine's path contraction turns a path equal to a root without one into <c>../leaf</c>.
/// A provider-qualified path without braces (<c>Xenstore::/local</c>) names the session's store.
/// </para>
/// <para>
/// Provider methods are synchronous: each store request is waited for, at most <see cref="RequestTimeout"/> and
/// only until Ctrl+C, so a store that stops answering fails the command instead of hanging it.
/// </para>
/// </remarks>
[CmdletProvider(ProviderName, ProviderCapabilities.ShouldProcess | ProviderCapabilities.Filter)]
[OutputType(typeof(XenstoreItem), ProviderCmdlet = ProviderCmdlet.GetItem)]
[OutputType(typeof(XenstoreItem), ProviderCmdlet = ProviderCmdlet.GetChildItem)]
public sealed class XenstoreProvider : NavigationCmdletProvider, IContentCmdletProvider
{
    /// <summary>The provider's name.</summary>
    public const string ProviderName = "Xenstore";

    /// <summary>The default drive's name.</summary>
    public const string DefaultDriveName = "Xs";

    private static readonly TimeSpan RequestTimeout = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Splits a provider path into the drive its <c>{Name}</c> prefix names (null for plain paths) and the xenstore
    /// path of the node.
    /// </summary>
    /// <param name="providerPath">The provider path.</param>
    /// <param name="sessionState">The session, to find drives by name.</param>
    internal static (XenstoreDriveInfo? Drive, string Node) SplitProviderPath(string providerPath, SessionState sessionState)
    {
        (string prefix, string rest) = SplitPrefix(providerPath);
        if (prefix.Length == 0)
        {
            return (null, ToNode(rest));
        }

        // A path of a drive that has gone (Remove-PSDrive) fails rather than falling back to the session's store: the
        // drive may have shown another store, where the same path is another node.
        return (sessionState.Drive.Get(prefix[1..^1]) as XenstoreDriveInfo
            ?? throw new ArgumentException($"'{prefix[1..^1]}' is not a drive of the {ProviderName} provider.", nameof(providerPath)), ToNode(rest));
    }

    /// <inheritdoc/>
    protected override Collection<PSDriveInfo> InitializeDefaultDrives() =>
    [
        new XenstoreDriveInfo(new PSDriveInfo(DefaultDriveName, ProviderInfo, DriveRoot(DefaultDriveName, "/"), "The session's xenstore (chosen with Connect-Xenstore)", null), null, ownsStore: false),
    ];

    /// <inheritdoc/>
    protected override object NewDriveDynamicParameters() => new XenstoreDriveParameters();

    /// <inheritdoc/>
    protected override PSDriveInfo NewDrive(PSDriveInfo drive)
    {
        if (drive is XenstoreDriveInfo)
        {
            return drive;
        }

        var parameters = DynamicParameters as XenstoreDriveParameters;
        string root = DriveRoot(drive.Name, RootNode(drive.Root));
        var rooted = new PSDriveInfo(drive.Name, drive.Provider, root, drive.Description, drive.Credential);
        if (parameters?.SocketPath is { Length: > 0 } socketPath)
        {
            string fullPath = SessionState.Path.GetUnresolvedProviderPathFromPSPath(socketPath);
            try
            {
                XenstoreClient client = Call(ct => XenstoreClient.ConnectAsync(ModuleSession.XenstoreOptions with { SocketPath = fullPath }, ct));
                return new XenstoreDriveInfo(rooted, client, ownsStore: true);
            }
            catch (Exception e) when (ErrorRecords.IsReportable(e))
            {
                ThrowTerminatingError(ErrorRecords.FromException(e, fullPath));
                return null!;
            }
        }

        return new XenstoreDriveInfo(rooted, parameters?.Store, ownsStore: false);
    }

    /// <inheritdoc/>
    protected override PSDriveInfo RemoveDrive(PSDriveInfo drive)
    {
        if (drive is XenstoreDriveInfo { OwnsStore: true, Store: { } store })
        {
            store.Dispose();
        }

        return drive;
    }

    /// <inheritdoc/>
    protected override bool IsValidPath(string path)
    {
        (_, string rest) = SplitPrefix(path);
        return rest.All(c => char.IsAsciiLetterOrDigit(c) || c is '/' or '\\' or '-' or '_' or '@');
    }

    /// <inheritdoc/>
    protected override bool ItemExists(string path)
    {
        (XenstoreClient? store, string node) = Locate(path);
        if (store is null || node == "/")
        {
            return store is not null;
        }

        try
        {
            return Call(ct => store.ExistsAsync(node, ct));
        }
        catch (XenstoreException e) when (e.ErrorName is "EACCES" or "EPERM")
        {
            return true; // it exists; this domain may not read it
        }
        catch (Exception e) when (e is OperationCanceledException || ErrorRecords.IsReportable(e))
        {
            WriteError(ErrorRecords.FromException(Timeout(e), node));
            return false;
        }
    }

    /// <inheritdoc/>
    protected override bool IsItemContainer(string path) => ItemExists(path);

    /// <inheritdoc/>
    protected override bool HasChildItems(string path)
    {
        (XenstoreClient? store, string node) = Locate(path);
        if (store is null)
        {
            return false;
        }

        try
        {
            return Call(ct => store.ListAsync(node, ct)).Count > 0;
        }
        catch (XenstoreException e) when (e.ErrorName is "ENOENT" or "EACCES" or "EPERM")
        {
            return false;
        }
        catch (Exception e) when (e is OperationCanceledException || ErrorRecords.IsReportable(e))
        {
            WriteError(ErrorRecords.FromException(Timeout(e), node));
            return false;
        }
    }

    /// <inheritdoc/>
    protected override void GetItem(string path) =>
        Guard(path, (store, node) => WriteItemObject(Call(ct => store.GetItemAsync(node, ct)), path, isContainer: true));

    /// <inheritdoc/>
    protected override void SetItem(string path, object value)
    {
        byte[] bytes = ToBytes(value);
        Guard(path, (store, node) =>
        {
            if (ShouldProcess(node, $"Set value ({bytes.Length} bytes)"))
            {
                Call(ct => store.WriteAsync(node, bytes, ct));
                WriteItemObject(Call(ct => store.GetItemAsync(node, ct)), path, isContainer: true);
            }
        });
    }

    /// <inheritdoc/>
    protected override void ClearItem(string path) => Guard(path, (store, node) =>
    {
        if (ShouldProcess(node, "Clear value"))
        {
            Call(ct => store.WriteAsync(node, Array.Empty<byte>(), ct));
        }
    });

    /// <inheritdoc/>
    protected override void GetChildItems(string path, bool recurse) => GetChildItems(path, recurse, uint.MaxValue);

    /// <inheritdoc/>
    protected override void GetChildItems(string path, bool recurse, uint depth)
    {
        string prefix = SplitPrefix(path).Prefix;
        int levels = recurse ? (int)Math.Min(depth, 1000) : 0;
        Guard(path, (store, node) =>
        {
            IAsyncEnumerator<XenstoreItem> items = store.GetChildItemsAsync(node, levels).GetAsyncEnumerator();
            try
            {
                WildcardPattern? filter = NameFilter();
                while (!Stopping && Call(_ => items.MoveNextAsync()))
                {
                    if (filter is null || filter.IsMatch(items.Current.Name))
                    {
                        WriteItemObject(items.Current, prefix + items.Current.NodePath, isContainer: true);
                    }
                }
            }
            finally
            {
                Call(_ => Completed(items.DisposeAsync()));
            }
        });
    }

    /// <inheritdoc/>
    protected override void GetChildNames(string path, ReturnContainers returnContainers)
    {
        string prefix = SplitPrefix(path).Prefix;
        Guard(path, (store, node) =>
        {
            WildcardPattern? filter = NameFilter();
            foreach (string name in Call(ct => store.ListAsync(node, ct)))
            {
                if (filter is null || filter.IsMatch(name))
                {
                    WriteItemObject(name, prefix + XenstorePath.Combine(node, name), isContainer: true);
                }
            }
        });
    }

    /// <inheritdoc/>
    protected override void NewItem(string path, string itemTypeName, object newItemValue) => Guard(path, (store, node) =>
    {
        if (!ShouldProcess(node, "Create node"))
        {
            return;
        }

        // The existence check and the creation are one transaction, as in New-XenstoreItem.
        bool force = Force;
        XenstoreItem created = Call(ct => store.RunInTransactionAsync(async (tx, token) =>
        {
            bool exists = await tx.ExistsAsync(node, token).ConfigureAwait(false);
            if (exists && !force)
            {
                throw new XenstoreException("EEXIST", $"xenstore node '{node}' already exists; use -Force to overwrite its value.", node);
            }

            if (newItemValue is not null)
            {
                await tx.WriteAsync(node, ToBytes(newItemValue), token).ConfigureAwait(false);
            }
            else if (!exists)
            {
                await tx.MakeDirectoryAsync(node, token).ConfigureAwait(false);
            }

            return await tx.GetItemAsync(node, token).ConfigureAwait(false);
        }, cancellationToken: ct));
        WriteItemObject(created, path, isContainer: true);
    });

    /// <inheritdoc/>
    protected override void RemoveItem(string path, bool recurse) => Guard(path, (store, node) =>
    {
        // The engine has already asked before removing a node with children without -Recurse.
        if (node == "/")
        {
            throw new XenstoreException("EINVAL", "The root of xenstore cannot be removed.", node);
        }

        if (ShouldProcess(node, "Remove node and its subtree"))
        {
            Call(ct => store.RemoveAsync(node, ct));
        }
    });

    /// <inheritdoc/>
    protected override string MakePath(string parent, string child)
    {
        string p = (parent ?? string.Empty).Replace('\\', '/');
        string c = (child ?? string.Empty).Replace('\\', '/');
        if (SplitPrefix(c.TrimStart('/')).Prefix.Length > 0)
        {
            // The child is a whole provider path: the engine joins a drive root and an unresolved provider path when
            // it formats a path that does not exist yet (Set-Content of a new node gives "D1:/{D1}/local/x").
            return c.TrimStart('/');
        }

        c = c.Trim('/');
        if (p.Length == 0)
        {
            return c;
        }

        string joined = c.Length == 0 ? p : p.TrimEnd('/') + "/" + c;
        (string prefix, string rest) = SplitPrefix(joined);
        if (prefix.Length == 0 || !HasNavigation(rest))
        {
            return joined;
        }

        // A path that comes back to the drive's root is the root itself, with its closing '/'.
        string floor = DriveRootNode(prefix);
        string resolved = ResolveNavigation(rest, floor);
        return resolved == floor ? DriveRoot(prefix[1..^1], floor) : prefix + resolved;
    }

    /// <inheritdoc/>
    protected override string GetParentPath(string path, string root)
    {
        (string prefix, string rest) = SplitPrefix(path);
        string node = rest.Replace('\\', '/').TrimEnd('/');
        if (node.Length == 0)
        {
            return string.Empty;
        }

        int slash = node.LastIndexOf('/');
        return slash switch
        {
            < 0 => prefix,
            0 => prefix + "/",
            _ => prefix + node[..slash],
        };
    }

    /// <inheritdoc/>
    protected override string GetChildName(string path)
    {
        (string prefix, string rest) = SplitPrefix(path);
        string node = rest.Replace('\\', '/').TrimEnd('/');
        if (node.Length == 0)
        {
            return prefix + "/";
        }

        int slash = node.LastIndexOf('/');
        return slash < 0 ? node : node[(slash + 1)..];
    }

    /// <inheritdoc/>
    protected override string NormalizeRelativePath(string path, string basePath)
    {
        (string prefix, string node) = SplitPrefix((path ?? string.Empty).Replace('\\', '/'));
        (string basePrefix, string from) = SplitPrefix((basePath ?? string.Empty).Replace('\\', '/'));
        from = from.TrimEnd('/');
        if (prefix == basePrefix && from.Length > 0 && node.StartsWith(from + "/", StringComparison.Ordinal))
        {
            return node[(from.Length + 1)..];
        }

        return node.StartsWith('/') && from.Length == 0 ? node.TrimStart('/') : node;
    }

    /// <inheritdoc/>
    public IContentReader GetContentReader(string path)
    {
        (XenstoreClient? store, string node) = LocateOrThrow(path);
        try
        {
            return new XenstoreContentReader(Call(ct => store.ReadStringAsync(node, ct)));
        }
        catch (Exception e) when (e is OperationCanceledException || ErrorRecords.IsReportable(e))
        {
            ThrowTerminatingError(ErrorRecords.FromException(Timeout(e), node));
            return null!;
        }
    }

    /// <inheritdoc/>
    public object? GetContentReaderDynamicParameters(string path) => null;

    /// <inheritdoc/>
    public IContentWriter GetContentWriter(string path)
    {
        (XenstoreClient store, string node) = LocateOrThrow(path);
        try
        {
            // Add-Content appends to the current value; Set-Content clears it first (through ClearContent).
            string current = Call(ct => store.TryReadStringAsync(node, ct)) ?? string.Empty;
            return new XenstoreContentWriter(current, value => Call(ct => store.WriteAsync(node, Encoding.UTF8.GetBytes(value), ct)));
        }
        catch (Exception e) when (e is OperationCanceledException || ErrorRecords.IsReportable(e))
        {
            ThrowTerminatingError(ErrorRecords.FromException(Timeout(e), node));
            return null!;
        }
    }

    /// <inheritdoc/>
    public object? GetContentWriterDynamicParameters(string path) => null;

    /// <inheritdoc/>
    public void ClearContent(string path) => Guard(path, (store, node) =>
    {
        if (ShouldProcess(node, "Clear value"))
        {
            Call(ct => store.WriteAsync(node, Array.Empty<byte>(), ct));
        }
    });

    /// <inheritdoc/>
    public object? ClearContentDynamicParameters(string path) => null;

    /// <summary>The -Filter of the command as a pattern on node names (the provider declares the Filter capability), or null.</summary>
    private WildcardPattern? NameFilter() =>
        string.IsNullOrEmpty(Filter) ? null : WildcardPattern.Get(Filter, WildcardOptions.IgnoreCase | WildcardOptions.CultureInvariant);

    /// <summary>Splits off a <c>{Name}</c> drive prefix.</summary>
    private static (string Prefix, string Remainder) SplitPrefix(string? path)
    {
        string p = path ?? string.Empty;
        if (p.StartsWith('{'))
        {
            int close = p.IndexOf('}', StringComparison.Ordinal);
            if (close > 1)
            {
                return (p[..(close + 1)], p[(close + 1)..]);
            }
        }

        return (string.Empty, p);
    }

    /// <summary>
    /// A provider path without prefix as a xenstore path: forward slashes, one leading slash, none trailing, and the
    /// navigation segments '.' and '..' resolved (xenstore names cannot contain dots, so they can only mean navigation;
    /// '..' stops at the root, as in a file system).
    /// </summary>
    private static string ToNode(string? rest)
    {
        string node = XenstoreSession.Clean(rest ?? string.Empty);
        if (HasNavigation(node))
        {
            return ResolveNavigation(node, "/");
        }

        return node.Length == 0 ? "/" : node[0] == '/' ? node : "/" + node;
    }

    /// <summary>True when a path has a '.' or '..' segment.</summary>
    private static bool HasNavigation(string path) =>
        path.Split('/').Any(segment => segment is "." or "..");

    /// <summary>
    /// Resolves the '.' and '..' segments of an absolute path lexically; '..' never goes above <paramref name="floor"/>
    /// (the root node of the path's drive), as '..' at '/' stays at '/'.
    /// </summary>
    private static string ResolveNavigation(string path, string floor)
    {
        string[] bottom = floor.Split('/', StringSplitOptions.RemoveEmptyEntries);
        var segments = new List<string>();
        foreach (string segment in path.Split('/', StringSplitOptions.RemoveEmptyEntries))
        {
            if (segment == "..")
            {
                if (segments.Count > bottom.Length || (segments.Count > 0 && !segments.Take(bottom.Length).SequenceEqual(bottom)))
                {
                    segments.RemoveAt(segments.Count - 1);
                }
            }
            else if (segment != ".")
            {
                segments.Add(segment);
            }
        }

        return "/" + string.Join('/', segments);
    }

    /// <summary>The node at the root of the drive a <c>{Name}</c> prefix names ("/" when there is no such drive).</summary>
    private string DriveRootNode(string prefix)
    {
        try
        {
            return SessionState.Drive.Get(prefix[1..^1]) is XenstoreDriveInfo drive ? ToNode(SplitPrefix(drive.Root).Remainder) : "/";
        }
        catch (System.Management.Automation.DriveNotFoundException)
        {
            return "/";
        }
    }

    /// <summary>The root of a drive: its name in braces, then its node, ending with '/' (see the remarks of the class).</summary>
    private static string DriveRoot(string name, string node) => "{" + name + "}" + (node == "/" ? node : node + "/");

    /// <summary>
    /// The node New-PSDrive's -Root names: a xenstore path (<c>/local/domain/1</c>), or a path on a Xenstore drive
    /// (<c>Xs:/local/domain/1</c>, <c>Xenstore::/local</c>).
    /// </summary>
    private string RootNode(string? root)
    {
        string given = root ?? string.Empty;
        if (given.Contains(':', StringComparison.Ordinal))
        {
            string providerPath = SessionState.Path.GetUnresolvedProviderPathFromPSPath(given, out ProviderInfo provider, out _);
            if (string.Equals(provider.Name, ProviderName, StringComparison.OrdinalIgnoreCase))
            {
                return ToNode(SplitPrefix(providerPath).Remainder);
            }
        }

        return ToNode(SplitPrefix(given).Remainder);
    }

    private static byte[] ToBytes(object? value) => (value is PSObject ps ? ps.BaseObject : value) switch
    {
        null => [],
        byte[] bytes => bytes,
        XenstoreItem item => item.Bytes,
        object other => Encoding.UTF8.GetBytes(other.ToString() ?? string.Empty),
    };

    private static Exception Timeout(Exception e) => e is OperationCanceledException
        ? new DeviceException(DeviceErrorIds.Xenstore.WaitTimeout, DeviceErrorCategory.OperationTimeout, $"xenstore did not answer within {RequestTimeout.TotalSeconds} s (or the command was stopped).", XenstoreException.XenstoreDeviceName, e)
        : e;

    private static ValueTask<bool> Completed(ValueTask pending) => pending.IsCompletedSuccessfully ? new(true) : new(pending.AsTask().ContinueWith(static t => { t.GetAwaiter().GetResult(); return true; }, TaskScheduler.Default));

    /// <summary>The store and node of a provider path; the store is null (and an error written) when none can be reached.</summary>
    private (XenstoreClient? Store, string Node) Locate(string path)
    {
        try
        {
            (XenstoreDriveInfo? drive, string node) = SplitProviderPath(path, SessionState);
            return (XenstoreSession.Resolve(ModuleSession.Current, drive?.Store ?? (PSDriveInfo as XenstoreDriveInfo)?.Store), node);
        }
        catch (Exception e) when (ErrorRecords.IsReportable(e))
        {
            WriteError(ErrorRecords.FromException(e, path));
            return (null, path);
        }
    }

    private (XenstoreClient Store, string Node) LocateOrThrow(string path)
    {
        try
        {
            (XenstoreDriveInfo? drive, string node) = SplitProviderPath(path, SessionState);
            return (XenstoreSession.Resolve(ModuleSession.Current, drive?.Store ?? (PSDriveInfo as XenstoreDriveInfo)?.Store), node);
        }
        catch (Exception e) when (ErrorRecords.IsReportable(e))
        {
            ThrowTerminatingError(ErrorRecords.FromException(e, path));
            throw;
        }
    }

    /// <summary>Runs one store request and waits for it: at most <see cref="RequestTimeout"/>, and only until Ctrl+C.</summary>
    private T Call<T>(Func<CancellationToken, ValueTask<T>> request)
    {
        using var timeout = new CancellationTokenSource(RequestTimeout);
        ValueTask<T> pending = request(timeout.Token);
        if (pending.IsCompletedSuccessfully)
        {
            return pending.Result;
        }

        Task<T> task = pending.AsTask();
        while (Task.WaitAny([task], 100) < 0)
        {
            if (Stopping)
            {
                timeout.Cancel();
            }
        }

        return task.GetAwaiter().GetResult();
    }

    private void Call(Func<CancellationToken, ValueTask> request) =>
        Call(async ct =>
        {
            await request(ct).ConfigureAwait(false);
            return true;
        });

    /// <summary>Runs an operation on the store and node of a path, reporting store errors as non-terminating errors with their ids.</summary>
    private void Guard(string path, Action<XenstoreClient, string> action)
    {
        (XenstoreClient? store, string node) = Locate(path);
        if (store is null)
        {
            return;
        }

        try
        {
            action(store, node);
        }
        catch (Exception e) when (e is OperationCanceledException || ErrorRecords.IsReportable(e))
        {
            WriteError(ErrorRecords.FromException(Timeout(e), node));
        }
    }
}
