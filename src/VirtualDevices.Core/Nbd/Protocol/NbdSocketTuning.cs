using System.Net.Sockets;

namespace VirtualDevices.Nbd.Protocol;

/// <summary>Socket settings shared by the client and the server.</summary>
internal static class NbdSocketTuning
{
    /// <summary>
    /// The send buffer asked for on unix sockets. The default (about 208 KiB) is smaller than one 256 KiB request or
    /// reply, so every large send would stop half-way and wait for the peer; with room for several, a send completes
    /// in one call. The kernel caps it at <c>net.core.wmem_max</c>.
    /// </summary>
    public const int UnixSendBuffer = 2 * 1024 * 1024;

    /// <summary>
    /// Enlarges the send buffer of a unix socket. TCP is left alone: a fixed buffer would turn off the kernel's
    /// autotuning, which serves long links better.
    /// </summary>
    public static void Apply(Socket socket)
    {
        if (socket.AddressFamily != AddressFamily.Unix)
        {
            return;
        }

        try
        {
            if (socket.SendBufferSize < UnixSendBuffer)
            {
                socket.SendBufferSize = UnixSendBuffer;
            }
        }
        catch (SocketException)
        {
            // Not fatal: the default works, only slower.
        }
    }
}
