using System.Net.Sockets;

namespace VirtualDevices.IO;

/// <summary>The accept loop the embedded servers (NBD, xenstore) share.</summary>
internal static class AcceptLoop
{
    /// <summary>
    /// Accepts connections on <paramref name="listener"/> and hands each to <paramref name="accepted"/> until
    /// <paramref name="stopping"/> is cancelled (or the listener is closed then).
    /// </summary>
    public static async Task RunAsync(Socket listener, Action<Socket> accepted, CancellationToken stopping)
    {
        while (!stopping.IsCancellationRequested)
        {
            Socket client;
            try
            {
                client = await listener.AcceptAsync(stopping).ConfigureAwait(false);
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException or SocketException)
            {
                if (stopping.IsCancellationRequested)
                {
                    return;
                }

                // A failed accept (descriptor limit, aborted connection) must not end the server, nor spin on it.
                await Task.Delay(10, CancellationToken.None).ConfigureAwait(false);
                continue;
            }

            accepted(client);
        }
    }
}
