using System.Net.Sockets;
using VirtualDevices.Interop;
using VirtualDevices.IO;

namespace VirtualDevices.Xen.Xenstore.Client;

/// <summary>Opens the transports a xenstore client speaks over, with xenstore's errors.</summary>
internal static class XenstoreConnector
{
    /// <summary>Connects to xenstored's (or an embedded server's) unix socket at <paramref name="path"/>.</summary>
    /// <exception cref="DeviceException">
    /// <c>SocketNotFound</c> (no such socket), <c>ConnectionRefused</c> (nothing listens there),
    /// <c>ConnectAccessDenied</c>, or <c>XenstoreConnectFailed</c> (anything else).
    /// </exception>
    internal static SocketTransport Connect(string path)
    {
        try
        {
            return SocketTransport.ConnectUnix(path);
        }
        catch (SocketException e)
        {
            if (Devices.SocketErrors.Connect(e, path, path) is { } known)
            {
                throw new DeviceException(known.Id, known.Category, $"Cannot connect to xenstore: {known.Reason}.", XenstoreException.XenstoreDeviceName, e);
            }

            throw new DeviceException(DeviceErrorIds.Xenstore.ConnectFailed, DeviceErrorCategory.ConnectionError,
                $"Cannot connect to xenstore at '{path}': {e.Message}", XenstoreException.XenstoreDeviceName, e);
        }
    }

    /// <summary>Opens a Xen guest's xenbus device read-write.</summary>
    /// <exception cref="DeviceException">ConnectionError when the device cannot be opened (not a Xen guest, no permission).</exception>
    internal static DescriptorTransport Open(string path) =>
        DescriptorTransport.TryOpen(path, out int errno)
        ?? throw new DeviceException(DeviceErrorIds.Xenstore.ConnectFailed, DeviceErrorCategory.ConnectionError,
            $"Cannot open the xenbus device {path}: {Unix.Errno.Describe(errno)}", XenstoreException.XenstoreDeviceName);
}
