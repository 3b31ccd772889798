using VirtualDevices.Xen.Xenstore;

namespace VirtualDevices.PowerShell.Infrastructure;

/// <summary>
/// Finds the xenstore a command talks to: the one given, else the session's, else the host's default (XENSTORED_PATH,
/// the xenstored socket, or /dev/xen/xenbus), which then becomes the session's.
/// </summary>
internal static class XenstoreSession
{
    /// <summary>
    /// The options of every client the PowerShell layer opens: replies resume awaiting code on the thread pool, so a
    /// pipeline that waits synchronously on one request never holds up the reader that completes another.
    /// </summary>
    public static XenstoreClientOptions ClientOptions { get; } = new() { RunContinuationsAsynchronously = true };

    /// <summary>Resolves the store; call on the pipeline thread.</summary>
    public static XenstoreClient Resolve(ModuleSession session, XenstoreClient? explicitStore)
    {
        if (explicitStore is not null)
        {
            return explicitStore;
        }

        XenstoreClient? current = session.Xenstore;
        if (current is not null)
        {
            return current;
        }

        XenstoreClient client;
        try
        {
            client = XenstoreClient.ConnectAsync(ClientOptions).AsTask().GetAwaiter().GetResult();
        }
        catch (DeviceException e)
        {
            throw new DeviceException("XenstoreNotConnected", DeviceErrorCategory.ConnectionError,
                $"No xenstore to talk to ({e.Message}). Use Connect-Xenstore, or Start-XenstoreServer for an embedded one.", XenstoreException.XenstoreDeviceName, e);
        }

        XenstoreClient? raced = session.SwapXenstore(client);
        raced?.Dispose();
        return client;
    }

    /// <summary>
    /// A path as the cmdlets accept it: a xenstore path, or one written with the drive prefix of the Xs: drive
    /// (<c>Xs:/local/domain</c>), which is removed.
    /// </summary>
    public static string NormalizePath(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        string trimmed = path.Trim().Replace('\\', '/');
        int colon = trimmed.IndexOf(':', StringComparison.Ordinal);
        if (colon > 0 && trimmed.AsSpan(0, colon).IndexOfAny('/', '@') < 0)
        {
            trimmed = trimmed[(colon + 1)..];
            if (trimmed.Length == 0 || trimmed[0] != '/')
            {
                trimmed = "/" + trimmed;
            }
        }

        return trimmed.Length > 1 ? trimmed.TrimEnd('/') : trimmed;
    }
}
