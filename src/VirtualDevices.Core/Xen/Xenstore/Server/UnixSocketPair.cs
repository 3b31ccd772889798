using System.Net.Sockets;
using VirtualDevices.Interop;

namespace VirtualDevices.Xen.Xenstore;

/// <summary>Two connected unix stream sockets in this process: the in-process link between a client and the server.</summary>
internal static class UnixSocketPair
{
    internal static unsafe (Socket First, Socket Second) Create()
    {
        int* fds = stackalloc int[2];
        if (Unix.SocketPair(Unix.AF_UNIX, Unix.SOCK_STREAM | Unix.SOCK_CLOEXEC, 0, fds) != 0)
        {
            int errno = System.Runtime.InteropServices.Marshal.GetLastPInvokeError();
            throw new DeviceException("XenstoreSocketPairFailed", DeviceErrorCategory.ConnectionError,
                $"socketpair failed: {Unix.Errno.Describe(errno)}", XenstoreException.XenstoreDeviceName);
        }

        return (new Socket(new SafeSocketHandle(fds[0], ownsHandle: true)), new Socket(new SafeSocketHandle(fds[1], ownsHandle: true)));
    }
}
