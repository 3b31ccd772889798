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
/// Provider methods are synchronous: each store request is waited for, for at most <see cref="RequestTimeout"/>, so a
/// store that stops answering fails the command instead of hanging it.
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
        var root = new PSDriveInfo(drive.Name, drive.Provider, "/", drive.Description, drive.Credential);
        if (parameters?.SocketPath is { Length: > 0 } socketPath)
        {
            XenstoreClient client = Wait(XenstoreClient.ConnectAsync(XenstoreSession.ClientOptions with { SocketPath = SessionState.Path.GetUnresolvedProviderPathFromPSPath(socketPath) }));
            return new XenstoreDriveInfo(root, client, ownsStore: true);
        }

        return new XenstoreDriveInfo(root, parameters?.Store, ownsStore: false);
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
        string normalized = ToStorePath(path);
        return normalized.All(c => char.IsAsciiLetterOrDigit(c) || c is '/' or '-' or '_' or '@' or '.');
    }

    /// <inheritdoc/>
    protected override bool ItemExists(string path)
    {
        string node = ToStorePath(path);
        return node == "/" || Call(ct => Store().ExistsAsync(node, ct));
    }

    /// <inheritdoc/>
    protected override bool IsItemContainer(string path) => ItemExists(path);

    /// <inheritdoc/>
    protected override bool HasChildItems(string path)
    {
        string node = ToStorePath(path);
        try
        {
            return Call(ct => Store().ListAsync(node, ct)).Count > 0;
        }
        catch (XenstoreException e) when (e.ErrorName == "ENOENT")
        {
            return false;
        }
    }

    /// <inheritdoc/>
    protected override void GetItem(string path)
    {
        string node = ToStorePath(path);
        Guard(node, () => WriteItemObject(Call(ct => Store().GetItemAsync(node, ct)), node, isContainer: true));
    }

    /// <inheritdoc/>
    protected override void SetItem(string path, object value)
    {
        string node = ToStorePath(path);
        byte[] bytes = ToBytes(value);
        if (!ShouldProcess(node, $"Set value ({bytes.Length} bytes)"))
        {
            return;
        }

        Guard(node, () =>
        {
            Call(ct => Store().WriteAsync(node, bytes, ct));
            WriteItemObject(Call(ct => Store().GetItemAsync(node, ct)), node, isContainer: true);
        });
    }

    /// <inheritdoc/>
    protected override void ClearItem(string path)
    {
        string node = ToStorePath(path);
        if (ShouldProcess(node, "Clear value"))
        {
            Guard(node, () => Call(ct => Store().WriteAsync(node, Array.Empty<byte>(), ct)));
        }
    }

    /// <inheritdoc/>
    protected override void GetChildItems(string path, bool recurse) => GetChildItems(path, recurse, uint.MaxValue);

    /// <inheritdoc/>
    protected override void GetChildItems(string path, bool recurse, uint depth)
    {
        string node = ToStorePath(path);
        int levels = recurse ? (int)Math.Min(depth, 1000) : 0;
        Guard(node, () =>
        {
            IAsyncEnumerator<XenstoreItem> items = Store().GetChildItemsAsync(node, levels).GetAsyncEnumerator();
            try
            {
                while (!Stopping && Wait(items.MoveNextAsync()))
                {
                    WriteItemObject(items.Current, items.Current.Path, isContainer: true);
                }
            }
            finally
            {
                Wait(items.DisposeAsync());
            }
        });
    }

    /// <inheritdoc/>
    protected override void GetChildNames(string path, ReturnContainers returnContainers)
    {
        string node = ToStorePath(path);
        Guard(node, () =>
        {
            foreach (string name in Call(ct => Store().ListAsync(node, ct)))
            {
                WriteItemObject(name, XenstorePath.Combine(node, name), isContainer: true);
            }
        });
    }

    /// <inheritdoc/>
    protected override void NewItem(string path, string itemTypeName, object newItemValue)
    {
        string node = ToStorePath(path);
        if (!ShouldProcess(node, "Create node"))
        {
            return;
        }

        Guard(node, () =>
        {
            if (Call(ct => Store().ExistsAsync(node, ct)) && !Force)
            {
                throw new XenstoreException("EEXIST", $"xenstore node '{node}' already exists; use -Force to overwrite its value.", node);
            }

            if (newItemValue is null)
            {
                Call(ct => Store().MakeDirectoryAsync(node, ct));
            }
            else
            {
                Call(ct => Store().WriteAsync(node, ToBytes(newItemValue), ct));
            }

            WriteItemObject(Call(ct => Store().GetItemAsync(node, ct)), node, isContainer: true);
        });
    }

    /// <inheritdoc/>
    protected override void RemoveItem(string path, bool recurse)
    {
        // The engine has already asked before removing a node with children without -Recurse.
        string node = ToStorePath(path);
        if (node != "/" && ShouldProcess(node, "Remove node and its subtree"))
        {
            Guard(node, () => Call(ct => Store().RemoveAsync(node, ct)));
        }
    }

    /// <inheritdoc/>
    protected override string MakePath(string parent, string child)
    {
        string p = (parent ?? string.Empty).Replace('\\', '/');
        string c = (child ?? string.Empty).Replace('\\', '/').Trim('/');
        if (p.Length == 0)
        {
            return c;
        }

        if (c.Length == 0)
        {
            return p;
        }

        return p.TrimEnd('/') + "/" + c;
    }

    /// <inheritdoc/>
    protected override string GetParentPath(string path, string root)
    {
        string node = (path ?? string.Empty).Replace('\\', '/').TrimEnd('/');
        if (node.Length == 0)
        {
            return string.Empty;
        }

        int slash = node.LastIndexOf('/');
        return slash switch
        {
            < 0 => string.Empty,
            0 => "/",
            _ => node[..slash],
        };
    }

    /// <inheritdoc/>
    protected override string GetChildName(string path)
    {
        string node = (path ?? string.Empty).Replace('\\', '/').TrimEnd('/');
        int slash = node.LastIndexOf('/');
        return slash < 0 ? node : node[(slash + 1)..];
    }

    /// <inheritdoc/>
    protected override string NormalizeRelativePath(string path, string basePath)
    {
        string node = (path ?? string.Empty).Replace('\\', '/');
        string from = (basePath ?? string.Empty).Replace('\\', '/').TrimEnd('/');
        if (from.Length > 0 && node.StartsWith(from + "/", StringComparison.Ordinal))
        {
            return node[(from.Length + 1)..];
        }

        return node.StartsWith('/') && from.Length == 0 ? node.TrimStart('/') : node;
    }

    /// <inheritdoc/>
    public IContentReader GetContentReader(string path)
    {
        string node = ToStorePath(path);
        return new XenstoreContentReader(Call(ct => Store().ReadStringAsync(node, ct)));
    }

    /// <inheritdoc/>
    public object? GetContentReaderDynamicParameters(string path) => null;

    /// <inheritdoc/>
    public IContentWriter GetContentWriter(string path)
    {
        string node = ToStorePath(path);
        XenstoreClient store = Store();
        // Add-Content appends to the current value; Set-Content clears it first (through ClearContent).
        string current = Call(ct => store.TryReadStringAsync(node, ct)) ?? string.Empty;
        return new XenstoreContentWriter(current, value => Call(ct => store.WriteAsync(node, Encoding.UTF8.GetBytes(value), ct)));
    }

    /// <inheritdoc/>
    public object? GetContentWriterDynamicParameters(string path) => null;

    /// <inheritdoc/>
    public void ClearContent(string path)
    {
        string node = ToStorePath(path);
        if (ShouldProcess(node, "Clear value"))
        {
            Call(ct => Store().WriteAsync(node, Array.Empty<byte>(), ct));
        }
    }

    /// <inheritdoc/>
    public object? ClearContentDynamicParameters(string path) => null;

    /// <summary>A provider path as a xenstore path: forward slashes, one leading slash, none trailing.</summary>
    internal static string ToStorePath(string? path)
    {
        string node = XenstoreSession.NormalizePath(path ?? string.Empty);
        while (node.Contains("//", StringComparison.Ordinal))
        {
            node = node.Replace("//", "/", StringComparison.Ordinal);
        }

        return node.Length == 0 ? "/" : node[0] == '/' ? node : "/" + node;
    }

    /// <summary>Runs one store request and waits for it, for at most <see cref="RequestTimeout"/>.</summary>
    private static T Call<T>(Func<CancellationToken, ValueTask<T>> request)
    {
        using var timeout = new CancellationTokenSource(RequestTimeout);
        return Wait(request(timeout.Token));
    }

    private static void Call(Func<CancellationToken, ValueTask> request)
    {
        using var timeout = new CancellationTokenSource(RequestTimeout);
        Wait(request(timeout.Token));
    }

    private static T Wait<T>(ValueTask<T> pending) => pending.IsCompletedSuccessfully ? pending.Result : pending.AsTask().GetAwaiter().GetResult();

    private static void Wait(ValueTask pending)
    {
        if (!pending.IsCompletedSuccessfully)
        {
            pending.AsTask().GetAwaiter().GetResult();
        }
    }

    private static byte[] ToBytes(object? value) => (value is PSObject ps ? ps.BaseObject : value) switch
    {
        null => [],
        byte[] bytes => bytes,
        XenstoreItem item => item.Bytes,
        object other => Encoding.UTF8.GetBytes(other.ToString() ?? string.Empty),
    };

    private XenstoreClient Store() => XenstoreSession.Resolve(ModuleSession.Current, (PSDriveInfo as XenstoreDriveInfo)?.Store);

    private void Guard(string node, Action action)
    {
        try
        {
            action();
        }
        catch (Exception e) when (e is DeviceException or OperationCanceledException)
        {
            Exception error = e is OperationCanceledException
                ? new DeviceException("XenstoreTimeout", DeviceErrorCategory.OperationTimeout, $"xenstore did not answer within {RequestTimeout.TotalSeconds} s.", XenstoreException.XenstoreDeviceName, e)
                : e;
            WriteError(ErrorRecords.FromException(error, node));
        }
    }
}
