using System.Collections.ObjectModel;
using System.Management.Automation;
using System.Management.Automation.Provider;
using System.Text;
using VirtualDevices.PowerShell.Infrastructure;
using VirtualDevices.Xen.Xenstore;

namespace VirtualDevices.PowerShell.Providers;

/// <summary>
/// The Xenstore provider: xenstore as a drive (Xs:), so that Get-ChildItem, Get-Item, Set-Item, New-Item, Remove-Item,
/// Get-Content, Set-Content and tab completion work on its paths. Every node is both a container (it may have
/// children) and an item with a value.
/// </summary>
/// <remarks>
/// <para>
/// The default drive Xs: has the root <c>/</c> and shows the session's store. A drive made with New-PSDrive gets the
/// root <c>{Name}/...</c>: the name in braces travels in every provider path (PSPath) of its items, so an item piped
/// from that drive to Remove-Item or Set-Item goes back to the drive's own store, never to the session's.
/// </para>
/// <para>
/// Provider methods are synchronous: each store request is waited for, at most <see cref="RequestTimeout"/> and
/// only until Ctrl+C, so a store that stops answering fails the command instead of hanging it.
/// </para>
/// </remarks>
[CmdletProvider(ProviderName, ProviderCapabilities.ShouldProcess)]
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
        XenstoreDriveInfo? drive = prefix.Length == 0 ? null : sessionState.Drive.Get(prefix[1..^1]) as XenstoreDriveInfo;
        return (drive, ToNode(rest));
    }

    /// <inheritdoc/>
    protected override Collection<PSDriveInfo> InitializeDefaultDrives() =>
    [
        new XenstoreDriveInfo(new PSDriveInfo(DefaultDriveName, ProviderInfo, "/", "The session's xenstore (chosen with Connect-Xenstore)", null), null, ownsStore: false),
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
        string root = "{" + drive.Name + "}" + ToNode(drive.Root);
        var rooted = new PSDriveInfo(drive.Name, drive.Provider, root, drive.Description, drive.Credential);
        if (parameters?.SocketPath is { Length: > 0 } socketPath)
        {
            string fullPath = SessionState.Path.GetUnresolvedProviderPathFromPSPath(socketPath);
            try
            {
                XenstoreClient client = Call(ct => XenstoreClient.ConnectAsync(XenstoreSession.ClientOptions with { SocketPath = fullPath }, ct));
                return new XenstoreDriveInfo(rooted, client, ownsStore: true);
            }
            catch (DeviceException e)
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
        catch (Exception e) when (e is DeviceException or OperationCanceledException)
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
        catch (Exception e) when (e is DeviceException or OperationCanceledException)
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
                while (!Stopping && Call(_ => items.MoveNextAsync()))
                {
                    WriteItemObject(items.Current, prefix + items.Current.NodePath, isContainer: true);
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
            foreach (string name in Call(ct => store.ListAsync(node, ct)))
            {
                WriteItemObject(name, prefix + XenstorePath.Combine(node, name), isContainer: true);
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
        string c = (child ?? string.Empty).Replace('\\', '/').Trim('/');
        if (p.Length == 0)
        {
            return c;
        }

        return c.Length == 0 ? p : p.TrimEnd('/') + "/" + c;
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
        catch (Exception e) when (e is DeviceException or OperationCanceledException)
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
        catch (Exception e) when (e is DeviceException or OperationCanceledException)
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

    /// <summary>A provider path without prefix as a xenstore path: forward slashes, one leading slash, none trailing.</summary>
    private static string ToNode(string? rest)
    {
        string node = XenstoreSession.Clean(rest ?? string.Empty);
        return node.Length == 0 ? "/" : node[0] == '/' ? node : "/" + node;
    }

    private static byte[] ToBytes(object? value) => (value is PSObject ps ? ps.BaseObject : value) switch
    {
        null => [],
        byte[] bytes => bytes,
        XenstoreItem item => item.Bytes,
        object other => Encoding.UTF8.GetBytes(other.ToString() ?? string.Empty),
    };

    private static Exception Timeout(Exception e) => e is OperationCanceledException
        ? new DeviceException("XenstoreTimeout", DeviceErrorCategory.OperationTimeout, $"xenstore did not answer within {RequestTimeout.TotalSeconds} s (or the command was stopped).", XenstoreException.XenstoreDeviceName, e)
        : e;

    private static ValueTask<bool> Completed(ValueTask pending) => pending.IsCompletedSuccessfully ? new(true) : new(pending.AsTask().ContinueWith(static t => { t.GetAwaiter().GetResult(); return true; }, TaskScheduler.Default));

    /// <summary>The store and node of a provider path; the store is null (and an error written) when none can be reached.</summary>
    private (XenstoreClient? Store, string Node) Locate(string path)
    {
        (XenstoreDriveInfo? drive, string node) = SplitProviderPath(path, SessionState);
        try
        {
            return (XenstoreSession.Resolve(ModuleSession.Current, drive?.Store ?? (PSDriveInfo as XenstoreDriveInfo)?.Store), node);
        }
        catch (DeviceException e)
        {
            WriteError(ErrorRecords.FromException(e, node));
            return (null, node);
        }
    }

    private (XenstoreClient Store, string Node) LocateOrThrow(string path)
    {
        (XenstoreDriveInfo? drive, string node) = SplitProviderPath(path, SessionState);
        try
        {
            return (XenstoreSession.Resolve(ModuleSession.Current, drive?.Store ?? (PSDriveInfo as XenstoreDriveInfo)?.Store), node);
        }
        catch (DeviceException e)
        {
            ThrowTerminatingError(ErrorRecords.FromException(e, node));
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
        catch (Exception e) when (e is DeviceException or OperationCanceledException)
        {
            WriteError(ErrorRecords.FromException(Timeout(e), node));
        }
    }
}
