using System.Buffers.Binary;
using System.Net.Sockets;
using VirtualDevices.Xen.Xenstore;
using VirtualDevices.Xen.Xenstore.Protocol;

namespace VirtualDevices.Benchmarks.Commands;

/// <summary>
/// <c>xenstore-rtt-serve SOCKET</c>: the baseline server: a thread per connection reading each request with
/// blocking calls and answering at once with a reply the size of our server's answer to xenstore-rtt's READ (a
/// WRITE gets OK), with no store behind it. Runs until killed.
/// </summary>
internal static class XenstoreRoundTripServeCommand
{
    public static Task<int> RunAsync(string[] args)
    {
        var options = Arguments.Parse(args, options: []);
        string socketPath = options.Positional(0, "SOCKET");
        if (File.Exists(socketPath))
        {
            File.Delete(socketPath);
        }

        using var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        listener.Bind(new UnixDomainSocketEndPoint(socketPath));
        listener.Listen(16);
        Console.WriteLine($"bare request/response server listening on {socketPath}");
        while (true)
        {
            Socket connection = listener.Accept();
            new Thread(() => Serve(connection)) { IsBackground = true }.Start();
        }
    }

    private static void Serve(Socket connection)
    {
        byte[] request = new byte[XenstoreLimits.HeaderSize + XenstoreLimits.PayloadMax];
        byte[] readReply = XenstoreRoundTripCommand.Message(XenstoreMessageType.Read, XenstoreRoundTripCommand.Value);
        byte[] okReply = XenstoreRoundTripCommand.Message(XenstoreMessageType.Write, "OK\0"u8.ToArray());
        using (connection)
        {
            try
            {
                while (true)
                {
                    XenstoreRoundTripCommand.Receive(connection, request);
                    byte[] reply = BinaryPrimitives.ReadUInt32LittleEndian(request) == (uint)XenstoreMessageType.Read ? readReply : okReply;
                    // Echo the request id, as any request/response protocol must.
                    request.AsSpan(4, 8).CopyTo(reply.AsSpan(4));
                    connection.Send(reply);
                }
            }
            catch (Exception e) when (e is SocketException or EndOfStreamException)
            {
            }
        }
    }
}
