using System.Buffers.Binary;
using System.Net.Sockets;
using System.Text;
using VirtualDevices.IO.Polling;
using VirtualDevices.Xen.Xenstore;
using VirtualDevices.Xen.Xenstore.Client;
using VirtualDevices.Xen.Xenstore.Protocol;
using VirtualDevices.Xen.Xenstore.Server;

namespace VirtualDevices.Tests.Xenstore;

/// <summary>
/// Malformed and abusive peers: each gets an error reply or its own connection closed; the server goes on. On both poll
/// loop backends (<see cref="XenstoreTestBackends"/>).
/// </summary>
public sealed class XenstoreHostileInputTests
{
    private static Socket Connect(XenstoreTestServer server)
    {
        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified) { ReceiveTimeout = 10_000 };
        socket.Connect(new UnixDomainSocketEndPoint(server.SocketPath));
        return socket;
    }

    private static bool IsClosedByPeer(Socket socket)
    {
        try
        {
            return socket.Receive(new byte[1]) == 0;
        }
        catch (SocketException e) when (e.SocketErrorCode == SocketError.ConnectionReset)
        {
            return true;
        }
    }

    [Theory(Timeout = XenstoreTestTimeouts.Test)]
    [MemberData(nameof(XenstoreTestBackends.All), MemberType = typeof(XenstoreTestBackends))]
    public async Task Bad_requests_get_error_replies_and_the_connection_stays_usable(string backend)
    {
        await using var server = XenstoreTestBackends.Start(backend);
        using Socket raw = Connect(server);
        const uint Error = (uint)XenstoreMessageType.Error;

        (byte[] Message, string Expected)[] cases =
        [
            (XenstoreTestWire.Message(999, 1, 0, "x\0"u8.ToArray()), "EINVAL\0"),                                         // unknown type
            (XenstoreTestWire.Message((uint)XenstoreMessageType.WatchEvent, 2, 0, "/a\0t\0"u8.ToArray()), "EINVAL\0"),     // reply type as request
            (XenstoreTestWire.Message((uint)XenstoreMessageType.Read, 3, 0, "/no//good\0"u8.ToArray()), "EINVAL\0"),        // invalid path
            (XenstoreTestWire.Message((uint)XenstoreMessageType.Read, 4, 0, "/no nul"u8.ToArray()), "EINVAL\0"),            // missing terminator
            (XenstoreTestWire.Message((uint)XenstoreMessageType.Read, 5, 0, "/bad\xff\0"u8.ToArray()), "EINVAL\0"),         // non-ASCII
            (XenstoreTestWire.Message((uint)XenstoreMessageType.Read, 6, 0, []), "EINVAL\0"),                               // empty payload
            (XenstoreTestWire.Message((uint)XenstoreMessageType.Read, 7, 77, "/\0"u8.ToArray()), "ENOENT\0"),               // unknown transaction
            (XenstoreTestWire.Message((uint)XenstoreMessageType.TransactionEnd, 8, 0, "T\0"u8.ToArray()), "EINVAL\0"),      // end without transaction
            (XenstoreTestWire.Message((uint)XenstoreMessageType.SetPermissions, 9, 0, "/\0q9\0"u8.ToArray()), "EINVAL\0"),  // bad permission
            (XenstoreTestWire.Message((uint)XenstoreMessageType.DirectoryPart, 10, 0, "/\0abc\0"u8.ToArray()), "EINVAL\0"), // bad offset
            (XenstoreTestWire.Message((uint)XenstoreMessageType.GetDomainPath, 11, 0, "99999999\0"u8.ToArray()), "EINVAL\0"),
            (XenstoreTestWire.Message((uint)XenstoreMessageType.Watch, 12, 0, "/only-path\0"u8.ToArray()), "EINVAL\0"),     // missing token
        ];

        foreach ((byte[] message, string expected) in cases)
        {
            raw.Send(message);
            (uint type, uint requestId, string payload) = XenstoreTestWire.ReadReply(raw);
            Assert.Equal(Error, type);
            Assert.Equal(BinaryPrimitives.ReadUInt32LittleEndian(message.AsSpan(4)), requestId);
            Assert.Equal(expected, payload);
        }

        // Still a working connection.
        raw.Send(XenstoreTestWire.Message((uint)XenstoreMessageType.Write, 20, 0, "/ok\0fine"u8.ToArray()));
        Assert.Equal(((uint)XenstoreMessageType.Write, 20u, "OK\0"), XenstoreTestWire.ReadReply(raw));
    }

    [Theory(Timeout = XenstoreTestTimeouts.Test)]
    [MemberData(nameof(XenstoreTestBackends.All), MemberType = typeof(XenstoreTestBackends))]
    public async Task An_oversized_length_closes_only_that_connection(string backend)
    {
        await using var server = XenstoreTestBackends.Start(backend);
        await using XenstoreClient bystander = await server.ConnectAsync();
        await bystander.WriteAsync("/alive", "yes");

        using Socket raw = Connect(server);
        raw.Send(XenstoreTestWire.Message((uint)XenstoreMessageType.Read, 1, 0, [], claimedLength: 0x7fffffff));
        Assert.True(IsClosedByPeer(raw));

        using Socket raw2 = Connect(server);
        raw2.Send(XenstoreTestWire.Message((uint)XenstoreMessageType.Write, 1, 0, new byte[XenstoreLimits.PayloadMax + 1]));
        Assert.True(IsClosedByPeer(raw2));

        Assert.Equal("yes", await bystander.ReadStringAsync("/alive"));
        Assert.True(server.Server.IsRunning);
    }

    [Theory(Timeout = XenstoreTestTimeouts.Test)]
    [MemberData(nameof(XenstoreTestBackends.All), MemberType = typeof(XenstoreTestBackends))]
    public async Task Garbage_partial_messages_and_abrupt_disconnects_do_not_hurt_the_server(string backend)
    {
        await using var server = XenstoreTestBackends.Start(backend);
        await using XenstoreClient bystander = await server.ConnectAsync();
        var random = new Random(42);
        for (int i = 0; i < 20; i++)
        {
            using Socket raw = Connect(server);
            byte[] garbage = new byte[random.Next(1, 200)];
            random.NextBytes(garbage);
            raw.Send(garbage);
            raw.Close();
        }

        // Half a header, then gone; a header promising a payload that never comes, then gone.
        using (Socket raw = Connect(server))
        {
            raw.Send(new byte[7]);
        }

        using (Socket raw = Connect(server))
        {
            raw.Send(XenstoreTestWire.Message((uint)XenstoreMessageType.Write, 1, 0, "/x\0"u8.ToArray(), claimedLength: 100));
        }

        await bystander.WriteAsync("/still", "here");
        Assert.Equal("here", await bystander.ReadStringAsync("/still"));

        // Connections are cleaned up once their peers are gone.
        using var wait = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        while (server.Server.ConnectionCount > 1)
        {
            await Task.Delay(20, wait.Token);
        }
    }

    [Theory(Timeout = XenstoreTestTimeouts.Test)]
    [MemberData(nameof(XenstoreTestBackends.All), MemberType = typeof(XenstoreTestBackends))]
    public async Task Many_watches_on_one_connection_keep_duplicates_refused_and_unwatch_exact(string backend)
    {
        // 20,000 watches on one privileged connection (no watch quota): duplicates are found by key, not by a scan of
        // every watch (which made registration quadratic), and unwatching finds exactly the pair it names.
        await using var server = XenstoreTestBackends.Start(backend);
        using Socket dom0 = Connect(server);
        const int count = 20_000;
        const int batch = 500;
        uint id = 0;
        for (int first = 0; first < count; first += batch)
        {
            var messages = new List<byte>();
            for (int i = first; i < first + batch; i++)
            {
                messages.AddRange(XenstoreTestWire.Message((uint)XenstoreMessageType.Watch, ++id, 0, Encoding.ASCII.GetBytes($"/w\0t{i}\0")));
            }

            dom0.Send(messages.ToArray());
            int replies = 0;
            for (int i = 0; i < 2 * batch; i++)
            {
                // Each registration is answered OK and fires once at once, in either order.
                (uint type, _, string payload) = XenstoreTestWire.ReadReply(dom0);
                if (type == (uint)XenstoreMessageType.Watch)
                {
                    Assert.Equal("OK\0", payload);
                    replies++;
                }
                else
                {
                    Assert.Equal((uint)XenstoreMessageType.WatchEvent, type);
                }
            }

            Assert.Equal(batch, replies);
        }

        dom0.Send(XenstoreTestWire.Message((uint)XenstoreMessageType.Watch, ++id, 0, "/w\0t5\0"u8.ToArray()));
        Assert.Equal(((uint)XenstoreMessageType.Error, id, "EEXIST\0"), XenstoreTestWire.ReadReply(dom0));
        dom0.Send(XenstoreTestWire.Message((uint)XenstoreMessageType.Watch, ++id, 0, "/w\0t5x\0"u8.ToArray()));
        Assert.Equal(((uint)XenstoreMessageType.Watch, id, "OK\0"), XenstoreTestWire.ReadReply(dom0));
        Assert.Equal((uint)XenstoreMessageType.WatchEvent, XenstoreTestWire.ReadReply(dom0).Type);
        dom0.Send(XenstoreTestWire.Message((uint)XenstoreMessageType.Unwatch, ++id, 0, "/w\0t10000\0"u8.ToArray()));
        Assert.Equal(((uint)XenstoreMessageType.Unwatch, id, "OK\0"), XenstoreTestWire.ReadReply(dom0));
        dom0.Send(XenstoreTestWire.Message((uint)XenstoreMessageType.Unwatch, ++id, 0, "/w\0t10000\0"u8.ToArray()));
        Assert.Equal(((uint)XenstoreMessageType.Error, id, "ENOENT\0"), XenstoreTestWire.ReadReply(dom0));
        dom0.Send(XenstoreTestWire.Message((uint)XenstoreMessageType.Watch, ++id, 0, "/w\0t10000\0"u8.ToArray()));
        Assert.Equal(((uint)XenstoreMessageType.Watch, id, "OK\0"), XenstoreTestWire.ReadReply(dom0));
    }

    [Theory(Timeout = XenstoreTestTimeouts.Test)]
    [MemberData(nameof(XenstoreTestBackends.All), MemberType = typeof(XenstoreTestBackends))]
    public async Task A_client_that_never_reads_its_watch_events_is_cut_off_alone(string backend)
    {
        await using var server = XenstoreTestServer.Start(new XenstoreServerOptions
        {
            MaxPendingOutputBytes = 256 * 1024,
            PollBackend = Enum.Parse<PollBackend>(backend),
        });
        await using XenstoreClient writer = await server.ConnectAsync();
        await using XenstoreClient healthy = await server.ConnectAsync();
        await using XenstoreWatch healthyWatch = await healthy.WatchAsync("/flood");

        using Socket lazy = Connect(server);
        lazy.ReceiveBufferSize = 4096;
        lazy.Send(XenstoreTestWire.Message((uint)XenstoreMessageType.Watch, 1, 0, "/flood\0lazy\0"u8.ToArray()));
        Assert.Equal(((uint)XenstoreMessageType.Watch, 1u, "OK\0"), XenstoreTestWire.ReadReply(lazy));
        Assert.Equal(3, server.Server.ConnectionCount);

        // Each event carries a ~2 KiB path: past what the kernel buffers plus the 256 KiB pending-output limit, the
        // lazy connection is closed; the writer and the healthy watcher go on.
        string longName = new('n', 2000);
        int drained = 0;
        for (int i = 0; i < 2000 && server.Server.ConnectionCount == 3; i++)
        {
            await writer.WriteAsync($"/flood/{i}/{longName}", "x");
            while (healthyWatch.Events.TryRead(out _))
            {
                drained++;
            }
        }

        using var wait = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        while (server.Server.ConnectionCount > 2)
        {
            await Task.Delay(20, wait.Token);
        }

        await writer.WriteAsync("/flood/after", "ok");
        Assert.Equal("ok", await healthy.ReadStringAsync("/flood/after"));

        // The healthy watcher still receives every event, up to the last one.
        CancellationToken ct = XenstoreTestTimeouts.Wait();
        while ((await healthyWatch.ReadAsync(ct)).Path != "/flood/after")
        {
            drained++;
        }

        Assert.True(drained > 100);
        Assert.Equal(0, healthyWatch.DroppedEvents);
    }
}
