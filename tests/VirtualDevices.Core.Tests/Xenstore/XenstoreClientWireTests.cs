using System.Net.Sockets;
using System.Text;
using VirtualDevices.Interop;
using VirtualDevices.IO;
using VirtualDevices.Xen.Xenstore;
using VirtualDevices.Xen.Xenstore.Client;
using VirtualDevices.Xen.Xenstore.Protocol;

namespace VirtualDevices.Tests.Xenstore;

/// <summary>
/// The client on the wire, seen by a raw peer: one whole message per write(2) on a descriptor, the xenbus device's
/// rules (one request on the wire, payloads of at most 4,080 bytes), and replies over the protocol's 4,096 bytes
/// (oxenstored's whole DIRECTORY over its socket) up to the client's bound. The peer of the write-boundary tests is a
/// SOCK_SEQPACKET socket, whose reader gets exactly what each write(2) carried, as Linux's xenbus driver does.
/// </summary>
public sealed class XenstoreClientWireTests
{
    /// <summary>How long the peer watches for a message that must not come (no assertion on speed: any wait works).</summary>
    private const int QuietMicroseconds = 300_000;

    [Fact(Timeout = XenstoreTestTimeouts.Test)]
    public async Task Xenbus_mode_writes_one_whole_message_per_write_and_the_next_only_after_a_reply()
    {
        using var link = SeqPacketLink.Create();
        using XenstoreClient xs = XenstoreClient.FromDescriptor(link.ClientDescriptor, "seqpacket", xenbus: true);
        Task<string>[] reads = [.. Enumerable.Range(0, 20).Select(i => xs.ReadStringAsync("/n/" + i).AsTask())];
        for (int n = 0; n < 20; n++)
        {
            (XenstoreMessageHeader header, string payload) = link.ReceiveOneMessage();
            Assert.Equal(XenstoreMessageType.Read, header.Type);

            // Linux's xenbus driver still holds this request's payload in its write buffer: a second write now would
            // overwrite it before the kernel copied it to the ring.
            Assert.False(link.Peer.Poll(QuietMicroseconds, SelectMode.SelectRead), $"a second request was written while request {n} was unanswered");
            link.Reply(header, XenstoreMessageType.Read, "v" + payload.TrimEnd('\0')[3..]);
        }

        string[] values = await Task.WhenAll(reads);
        Assert.Equal(Enumerable.Range(0, 20).Select(i => "v" + i), values);
    }

    [Fact(Timeout = XenstoreTestTimeouts.Test)]
    public async Task Socket_mode_writes_one_whole_message_per_write_and_keeps_pipelining()
    {
        using var link = SeqPacketLink.Create();
        using XenstoreClient xs = XenstoreClient.FromDescriptor(link.ClientDescriptor, "seqpacket", xenbus: false);
        Task<string>[] reads = [.. Enumerable.Range(0, 20).Select(i => xs.ReadStringAsync("/n/" + i).AsTask())];

        // All 20 arrive before any reply (each in a write of its own), then are answered in reverse order.
        var requests = new List<XenstoreMessageHeader>();
        var paths = new List<string>();
        for (int n = 0; n < 20; n++)
        {
            (XenstoreMessageHeader header, string payload) = link.ReceiveOneMessage();
            requests.Add(header);
            paths.Add(payload.TrimEnd('\0'));
        }

        for (int n = 19; n >= 0; n--)
        {
            link.Reply(requests[n], XenstoreMessageType.Read, "v" + paths[n][3..]);
        }

        Assert.Equal(Enumerable.Range(0, 20).Select(i => "v" + i), await Task.WhenAll(reads));
    }

    [Fact(Timeout = XenstoreTestTimeouts.Test)]
    public async Task Xenbus_mode_drops_a_request_cancelled_while_it_waits_for_the_wire()
    {
        using var link = SeqPacketLink.Create();
        using XenstoreClient xs = XenstoreClient.FromDescriptor(link.ClientDescriptor, "seqpacket", xenbus: true);
        using var cancel = new CancellationTokenSource();
        Task<string> first = xs.ReadStringAsync("/n/1").AsTask();
        Task<string> cancelled = xs.ReadStringAsync("/n/2", cancel.Token).AsTask();
        Task<string> third = xs.ReadStringAsync("/n/3").AsTask();
        (XenstoreMessageHeader header, string payload) = link.ReceiveOneMessage();
        Assert.Equal("/n/1\0", payload);
        cancel.Cancel();
        link.Reply(header, XenstoreMessageType.Read, "one");
        Assert.Equal("one", await first);

        // The cancelled request is never written: the next message on the wire is the third.
        (header, payload) = link.ReceiveOneMessage();
        Assert.Equal("/n/3\0", payload);
        link.Reply(header, XenstoreMessageType.Read, "three");
        Assert.Equal("three", await third);
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => cancelled);
    }

    [Fact(Timeout = XenstoreTestTimeouts.Test)]
    public async Task Xenbus_mode_refuses_a_payload_over_4080_bytes_before_sending_and_stays_usable()
    {
        using var link = SeqPacketLink.Create();
        using XenstoreClient xs = XenstoreClient.FromDescriptor(link.ClientDescriptor, "seqpacket", xenbus: true);
        const string path = "/v";
        int room = XenstoreLimits.DevicePayloadMax - path.Length - 1;
        var tooBig = await Assert.ThrowsAsync<XenstoreException>(() => xs.WriteAsync(path, new byte[room + 1]).AsTask());
        Assert.Equal("E2BIG", tooBig.ErrorName);
        Assert.Contains("4080", tooBig.Message, StringComparison.Ordinal);
        Assert.False(link.Peer.Poll(QuietMicroseconds, SelectMode.SelectRead), "the refused request reached the wire");

        // The largest that fits goes out whole, in one write of exactly 4,096 bytes, and the connection works.
        Task write = xs.WriteAsync(path, new byte[room]).AsTask();
        (XenstoreMessageHeader header, string _) = link.ReceiveOneMessage();
        Assert.Equal((uint)XenstoreLimits.DevicePayloadMax, header.Length);
        link.Reply(header, XenstoreMessageType.Write, "OK");
        await write;
        Assert.True(xs.IsConnected);
    }

    [Fact(Timeout = XenstoreTestTimeouts.Test)]
    public async Task Socket_mode_sends_a_full_4096_byte_payload_and_refuses_one_more()
    {
        await using var server = XenstoreTestServer.Start();
        await using XenstoreClient xs = await server.ConnectAsync();
        const string path = "/v";
        int room = XenstoreLimits.PayloadMax - path.Length - 1;
        await xs.WriteAsync(path, new byte[room]);
        Assert.Equal(room, (await xs.ReadAsync(path)).Length);
        var tooBig = await Assert.ThrowsAsync<XenstoreException>(() => xs.WriteAsync(path, new byte[room + 1]).AsTask());
        Assert.Equal("E2BIG", tooBig.ErrorName);
        Assert.Equal(room, (await xs.ReadAsync(path)).Length);
    }

    [Fact(Timeout = XenstoreTestTimeouts.Test)]
    public async Task Oversized_replies_are_taken_up_to_the_bound_and_beyond_it_fail_only_their_request()
    {
        (Socket clientSide, Socket peer) = SocketPair.Create("test", "xenstore");
        using (clientSide)
        using (peer)
        {
            peer.ReceiveTimeout = 10_000;

            // Replies go out with asynchronous sends: a request completes on the client's reader thread, and the
            // rest of this test may run there; a blocking send of 256 KiB would then wait for the very thread that
            // must read it (the hang one CI run met).
            var descriptor = new SafeFileDescriptor((int)clientSide.SafeHandle.DangerousGetHandle(), ownsHandle: false);
            using XenstoreClient xs = XenstoreClient.FromDescriptor(descriptor, "stream", xenbus: false);

            // oxenstored's answer in the Xen lab: 200 names of 40 characters, 8,200 bytes in one DIRECTORY reply.
            string[] names = [.. Enumerable.Range(0, 200).Select(i => $"child-{i:D4}-" + new string('x', 29))];
            Task<IReadOnlyList<string>> list = xs.ListAsync("/big").AsTask();
            (XenstoreMessageHeader request, _) = ReadRequest(peer);
            byte[] reply = Names(names);
            Assert.Equal(8200, reply.Length);
            await peer.SendAsync(XenstoreTestWire.Message((uint)XenstoreMessageType.Directory, request.RequestId, 0, reply), SocketFlags.None);
            Assert.Equal(names, await list);

            // Larger than the reader's 64 KiB buffer: /local/domain of a host with 30,000 domains.
            string[] domains = [.. Enumerable.Range(1, 30_000).Select(i => i.ToString(System.Globalization.CultureInfo.InvariantCulture))];
            list = xs.ListAsync("/local/domain").AsTask();
            (request, _) = ReadRequest(peer);
            await peer.SendAsync(XenstoreTestWire.Message((uint)XenstoreMessageType.Directory, request.RequestId, 0, Names(domains)), SocketFlags.None);
            Assert.Equal(domains, await list);

            // Over the bound: that request fails, its payload is skipped, and the request behind it still works.
            Task<IReadOnlyList<string>> huge = xs.ListAsync("/huge").AsTask();
            Task<string> after = xs.ReadStringAsync("/after").AsTask();
            (XenstoreMessageHeader hugeRequest, _) = ReadRequest(peer);
            (XenstoreMessageHeader afterRequest, _) = ReadRequest(peer);
            byte[] over = new byte[XenstoreClient.ReplyPayloadBound + 1];
            over.AsSpan().Fill((byte)'y');
            await peer.SendAsync(XenstoreTestWire.Message((uint)XenstoreMessageType.Directory, hugeRequest.RequestId, 0, over), SocketFlags.None);
            await peer.SendAsync(XenstoreTestWire.Message((uint)XenstoreMessageType.Read, afterRequest.RequestId, 0, "still here"u8.ToArray()), SocketFlags.None);
            var refused = await Assert.ThrowsAsync<XenstoreException>(() => huge);
            Assert.Equal("E2BIG", refused.ErrorName);
            Assert.Equal("still here", await after);
            Assert.True(xs.IsConnected);
        }
    }

    [Fact(Timeout = XenstoreTestTimeouts.Test)]
    public async Task Xenbus_mode_lists_a_directory_too_big_for_one_reply_in_parts_and_serves_many_in_flight()
    {
        await using var server = XenstoreTestServer.Start();
        Socket socket = server.Server.ConnectInProcess(0);
        var descriptor = new SafeFileDescriptor((int)socket.SafeHandle.DangerousGetHandle(), ownsHandle: false);
        using (socket)
        using (XenstoreClient xs = XenstoreClient.FromDescriptor(descriptor, "xenbus-like", xenbus: true))
        {
            // The lab's large-directory check: 8,000 bytes of names, E2BIG for DIRECTORY, then DIRECTORY_PART.
            string[] names = [.. Enumerable.Range(0, 200).Select(i => $"child-{i:D4}-" + new string('x', 29))];
            await xs.RunInTransactionAsync(async (tx, ct) =>
            {
                foreach (string name in names)
                {
                    await tx.WriteAsync("/big/" + name, "v", ct);
                }
            });
            Assert.Equal(names, (await xs.ListAsync("/big")).Order(StringComparer.Ordinal));

            // The lab's many-in-flight check: 500 reads at once, each its own value, one on the wire at a time.
            Task<string>[] reads = [.. Enumerable.Range(0, 500).Select(i => xs.ReadStringAsync("/big/" + names[i % 200]).AsTask())];
            Assert.All(await Task.WhenAll(reads), value => Assert.Equal("v", value));
        }
    }

    private static byte[] Names(string[] names) => Encoding.ASCII.GetBytes(string.Concat(names.Select(n => n + "\0")));

    private static (XenstoreMessageHeader Header, byte[] Payload) ReadRequest(Socket peer)
    {
        byte[] header = new byte[XenstoreLimits.HeaderSize];
        XenstoreTestWire.ReceiveExactly(peer, header);
        XenstoreMessageHeader parsed = XenstoreMessageHeader.Read(header);
        byte[] payload = new byte[parsed.Length];
        XenstoreTestWire.ReceiveExactly(peer, payload);
        return (parsed, payload);
    }

    /// <summary>A connected SOCK_SEQPACKET pair: the client's end as a descriptor, the peer's as a socket.</summary>
    private sealed class SeqPacketLink : IDisposable
    {
        private readonly TempDirectory _directory;
        private readonly Socket _client;

        private SeqPacketLink(TempDirectory directory, Socket client, Socket peer)
        {
            _directory = directory;
            _client = client;
            Peer = peer;
            Peer.ReceiveTimeout = 10_000;
            ClientDescriptor = new SafeFileDescriptor((int)client.SafeHandle.DangerousGetHandle(), ownsHandle: false);
        }

        public Socket Peer { get; }

        public SafeFileDescriptor ClientDescriptor { get; }

        public static SeqPacketLink Create()
        {
            var directory = new TempDirectory();
            var endpoint = new UnixDomainSocketEndPoint(directory.File("seq.sock"));
            using var listener = new Socket(AddressFamily.Unix, SocketType.Seqpacket, ProtocolType.Unspecified);
            listener.Bind(endpoint);
            listener.Listen(1);
            var client = new Socket(AddressFamily.Unix, SocketType.Seqpacket, ProtocolType.Unspecified);
            client.Connect(endpoint);
            return new SeqPacketLink(directory, client, listener.Accept());
        }

        /// <summary>Receives one write's worth and checks it is exactly one whole message.</summary>
        public (XenstoreMessageHeader Header, string Payload) ReceiveOneMessage()
        {
            byte[] packet = new byte[2 * (XenstoreLimits.HeaderSize + XenstoreLimits.PayloadMax)];
            int received = Peer.Receive(packet);
            Assert.True(received >= XenstoreLimits.HeaderSize, $"a write of {received} bytes: less than a header");
            XenstoreMessageHeader header = XenstoreMessageHeader.Read(packet);
            Assert.Equal(XenstoreLimits.HeaderSize + (int)header.Length, received);
            return (header, Encoding.ASCII.GetString(packet, XenstoreLimits.HeaderSize, (int)header.Length));
        }

        public void Reply(XenstoreMessageHeader request, XenstoreMessageType type, string value)
        {
            byte[] payload = Encoding.ASCII.GetBytes(value);
            Peer.Send(XenstoreTestWire.Message((uint)type, request.RequestId, request.TransactionId, payload));
        }

        public void Dispose()
        {
            Peer.Dispose();
            _client.Dispose();
            _directory.Dispose();
        }
    }
}
