using System.Buffers.Binary;
using System.Diagnostics;
using System.Net.Sockets;
using VirtualDevices.Xen.Xenstore;
using VirtualDevices.Xen.Xenstore.Protocol;

namespace VirtualDevices.Benchmarks.Commands;

/// <summary>
/// <c>xenstore-rtt SOCKET [--count N]</c>: a bare client sending one xenstore READ at a time with blocking socket
/// calls and waiting for the reply; prints round trips per second on the last line. Run against
/// <c>xenstore-serve</c> it measures our server; against <c>xenstore-rtt-serve</c> it measures a bare
/// request/response exchange over a unix socket, the baseline the server is held to.
/// </summary>
internal static class XenstoreRoundTripCommand
{
    internal static readonly byte[] Path = "/bench/rtt\0"u8.ToArray();
    internal static readonly byte[] Value = "0123456789abcdef0123456789abcdef"u8.ToArray();

    public static Task<int> RunAsync(string[] args)
    {
        var options = Arguments.Parse(args, options: ["--count", "--warmup"]);
        string socketPath = options.Positional(0, "SOCKET");
        int count = options.Int("--count", 100_000);
        int warmup = options.Int("--warmup", 10_000);
        using var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        socket.Connect(new UnixDomainSocketEndPoint(socketPath));

        byte[] write = Message(XenstoreMessageType.Write, [.. Path, .. Value]);
        byte[] read = Message(XenstoreMessageType.Read, Path);
        byte[] reply = new byte[XenstoreLimits.HeaderSize + XenstoreLimits.PayloadMax];
        socket.Send(write);
        Receive(socket, reply);
        for (int i = 0; i < warmup; i++)
        {
            socket.Send(read);
            Receive(socket, reply);
        }

        var clock = Stopwatch.StartNew();
        for (int i = 0; i < count; i++)
        {
            socket.Send(read);
            Receive(socket, reply);
        }

        clock.Stop();
        Console.WriteLine($"{count} round trips in {clock.Elapsed.TotalSeconds:F3} s, {clock.Elapsed.TotalMicroseconds / count:F1} us each");
        Console.WriteLine($"{count / clock.Elapsed.TotalSeconds:F0} round trips/s");
        return Task.FromResult(0);
    }

    internal static byte[] Message(XenstoreMessageType type, byte[] payload)
    {
        byte[] message = new byte[XenstoreLimits.HeaderSize + payload.Length];
        new XenstoreMessageHeader(type, 1, 0, (uint)payload.Length).Write(message);
        payload.CopyTo(message, XenstoreLimits.HeaderSize);
        return message;
    }

    /// <summary>Reads one whole message (header, then its payload).</summary>
    internal static int Receive(Socket socket, byte[] buffer)
    {
        int have = 0;
        int need = XenstoreLimits.HeaderSize;
        while (have < need)
        {
            int n = socket.Receive(buffer.AsSpan(have));
            if (n == 0)
            {
                throw new EndOfStreamException("peer closed the connection");
            }

            have += n;
            if (have >= XenstoreLimits.HeaderSize)
            {
                need = XenstoreLimits.HeaderSize + (int)BinaryPrimitives.ReadUInt32LittleEndian(buffer.AsSpan(12));
            }
        }

        return have;
    }
}
