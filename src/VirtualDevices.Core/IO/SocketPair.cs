using System.Net.Sockets;
using VirtualDevices.Interop;

namespace VirtualDevices.IO;

/// <summary>Two connected unix stream sockets in this process: the in-process link between a client and a server.</summary>
internal static class SocketPair
{
    /// <param name="errorId">The error id to report a failure with (the protocol's own).</param>
    /// <param name="device">The device or service the pair is for, for the error.</param>
    /// <exception cref="DeviceException">socketpair(2) failed (the descriptor limit).</exception>
    internal static unsafe (Socket First, Socket Second) Create(string errorId, string device)
    {
        int* fds = stackalloc int[2];
        if (Unix.SocketPair(Unix.AF_UNIX, Unix.SOCK_STREAM | Unix.SOCK_CLOEXEC, 0, fds) != 0)
        {
            int errno = System.Runtime.InteropServices.Marshal.GetLastPInvokeError();
            throw new DeviceException(errorId, DeviceErrorCategory.ConnectionError,
                $"socketpair failed: {Unix.Errno.Describe(errno)}", device);
        }

        return (new Socket(new SafeSocketHandle(fds[0], ownsHandle: true)), new Socket(new SafeSocketHandle(fds[1], ownsHandle: true)));
    }
}
