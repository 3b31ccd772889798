using System.Net.Sockets;

namespace VirtualDevices.Devices;

/// <summary>
/// The one translation of socket errors into the module's error ids, for the servers' listen and the clients'
/// connect (NBD and xenstore alike), so that one condition has one id and one wording whichever command meets it.
/// </summary>
/// <remarks>
/// .NET reports a unix socket path that does not exist (ENOENT) as <see cref="SocketError.AddressNotAvailable"/>,
/// whose text is "Cannot assign requested address", and keeps no errno: for unix sockets the file system is asked
/// what is missing instead.
/// </remarks>
internal static class SocketErrors
{
    /// <summary>
    /// The error of a failed bind or listen on <paramref name="where"/> (an <c>address:port</c> or a socket path).
    /// </summary>
    /// <param name="e">The failure.</param>
    /// <param name="where">What was to be listened on, as the user gave it.</param>
    /// <param name="unixPath">The socket path, for a unix socket.</param>
    /// <param name="errors">The server's own ids, for the failures that have no shared one.</param>
    internal static DeviceException Listen(SocketException e, string where, string? unixPath, Server errors)
    {
        string? directory = unixPath is null || unixPath.StartsWith('\0') ? null : System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(unixPath));
        return e.SocketErrorCode switch
        {
            SocketError.AddressAlreadyInUse => new DeviceException(DeviceErrorIds.Socket.AddressInUse, DeviceErrorCategory.ResourceExists,
                unixPath is null
                    ? $"Cannot listen on {where}: the address is already in use (another program listens on port {Port(where)})."
                    : $"Cannot listen on '{where}': the socket path is already in use.",
                errors.DeviceName, e),
            SocketError.AccessDenied => new DeviceException(DeviceErrorIds.Socket.ListenAccessDenied, DeviceErrorCategory.PermissionDenied,
                unixPath is null
                    ? $"Cannot listen on {where}: permission denied (ports below 1024 need root or CAP_NET_BIND_SERVICE)."
                    : $"Cannot create the socket '{where}': permission denied (the directory '{directory}' may not be written).",
                errors.DeviceName, e),
            SocketError.AddressNotAvailable when directory is not null && !Directory.Exists(directory) =>
                new DeviceException(DeviceErrorIds.Socket.DirectoryNotFound, DeviceErrorCategory.ObjectNotFound,
                    $"Cannot create the socket '{where}': the directory '{directory}' does not exist.", errors.DeviceName, e),
            SocketError.AddressNotAvailable when unixPath is null => new DeviceException(DeviceErrorIds.Socket.AddressNotAvailable, DeviceErrorCategory.InvalidArgument,
                $"Cannot listen on {where}: the address is not one of this machine's.", errors.DeviceName, e),
            _ => new DeviceException(errors.FailedId, errors.FailedCategory, $"Cannot listen on {where}: {e.Message}", errors.DeviceName, e),
        };
    }

    /// <summary>
    /// Says why a connect to <paramref name="where"/> failed, in the user's terms, with its id and category; null
    /// when the failure has no id of its own (the caller keeps its own).
    /// </summary>
    /// <param name="e">The failure.</param>
    /// <param name="where">An <c>address:port</c>, or the socket path.</param>
    /// <param name="unixPath">The socket path, for a unix socket.</param>
    internal static (string Id, DeviceErrorCategory Category, string Reason)? Connect(SocketException e, string where, string? unixPath)
    {
        return e.SocketErrorCode switch
        {
            SocketError.ConnectionRefused => (DeviceErrorIds.Socket.ConnectionRefused, DeviceErrorCategory.ConnectionError,
                unixPath is null ? $"nothing listens on {where} (connection refused)"
                : UnixSocketFile.TryDescribe(unixPath, out UnixSocketFile.FileKind kind, out _, out _) && kind is not (UnixSocketFile.FileKind.Socket or UnixSocketFile.FileKind.Unknown)
                    ? $"'{unixPath}' is not a socket"
                    : $"nothing listens on the socket '{unixPath}'"),
            SocketError.AccessDenied => (DeviceErrorIds.Socket.ConnectAccessDenied, DeviceErrorCategory.PermissionDenied,
                unixPath is null ? $"permission denied connecting to {where}" : $"permission denied on the socket '{unixPath}'"),
            SocketError.AddressNotAvailable when unixPath is not null =>
                (DeviceErrorIds.Socket.NotFound, DeviceErrorCategory.ObjectNotFound, $"the socket '{unixPath}' does not exist (no server listens there)"),
            _ => null,
        };
    }

    private static string Port(string where) => where[(where.LastIndexOf(':') + 1)..];

    /// <summary>A server's own error ids.</summary>
    /// <param name="InUseId">The id of a socket another server answers on.</param>
    /// <param name="FailedId">The id of a listen failure that has no shared id.</param>
    /// <param name="FailedCategory">Its category.</param>
    /// <param name="DeviceName">The device name errors carry, if any.</param>
    internal sealed record Server(string InUseId, string FailedId, DeviceErrorCategory FailedCategory, string? DeviceName);
}
