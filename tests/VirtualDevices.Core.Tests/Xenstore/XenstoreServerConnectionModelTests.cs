using System.Buffers.Binary;
using System.Diagnostics;
using System.Net.Sockets;
using System.Text;
using VirtualDevices.IO.Polling;
using VirtualDevices.Xen.Xenstore;
using VirtualDevices.Xen.Xenstore.Client;
using VirtualDevices.Xen.Xenstore.Protocol;
using VirtualDevices.Xen.Xenstore.Server;

namespace VirtualDevices.Tests.Xenstore;

/// <summary>
/// The server's connection model: one poll loop for every connection (no thread each), bounded output for clients that
/// never read, and a prompt stop. In the memory collection: thread counts and the heap are measured, alone. Each test
/// runs on both poll loop backends (<see cref="XenstoreTestBackends"/>).
/// </summary>
[Collection(XenstoreMemoryCollection.Name)]
public sealed class XenstoreServerConnectionModelTests
{
    private const uint Read = (uint)XenstoreMessageType.Read;
    private const uint Write = (uint)XenstoreMessageType.Write;
    private const uint Watch = (uint)XenstoreMessageType.Watch;

    private static byte[] Message(uint type, uint requestId, string payload)
    {
        return XenstoreTestWire.Message(type, requestId, 0, Encoding.ASCII.GetBytes(payload));
    }

    private static Socket ConnectUnix(XenstoreTestServer server)
    {
        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        socket.Connect(new UnixDomainSocketEndPoint(server.SocketPath));
        return socket;
    }

    private static int ThreadCount()
    {
        using var process = Process.GetCurrentProcess();
        return process.Threads.Count;
    }

    private static async Task WaitForConnections(XenstoreServer server, int count)
    {
        CancellationToken ct = XenstoreTestTimeouts.Wait(20);
        while (server.ConnectionCount != count)
        {
            await Task.Delay(10, ct);
        }
    }

    [Theory(Timeout = XenstoreTestTimeouts.Test)]
    [MemberData(nameof(XenstoreTestBackends.All), MemberType = typeof(XenstoreTestBackends))]
    public async Task A_thousand_open_connections_cost_a_small_constant_number_of_threads(string backend)
    {
        // Was a thread per connection (and a flusher thread per watcher): 1,000 connections, about 1,000 threads.
        await using var server = XenstoreTestBackends.Start(backend);
        var sockets = new List<Socket>();
        try
        {
            using (Socket warm = ConnectUnix(server))
            {
                warm.Send(Message(Write, 1, "/warm\0x"));
                Assert.Equal((Write, 1u, "OK\0"), XenstoreTestWire.ReadReply(warm));
            }

            await WaitForConnections(server.Server, 0);
            int before = ThreadCount();
            for (int i = 0; i < 1000; i++)
            {
                // Half through the unix socket listener, half in-process (a socket pair): both are transports of the loop.
                sockets.Add(i % 2 == 0 ? ConnectUnix(server) : server.Server.ConnectInProcess(0));
            }

            await WaitForConnections(server.Server, 1000);

            // Every one of them is served.
            for (int i = 0; i < sockets.Count; i++)
            {
                sockets[i].Send(Message(Read, (uint)i + 1, "/warm\0"));
            }

            for (int i = 0; i < sockets.Count; i++)
            {
                Assert.Equal((Read, (uint)i + 1, "x"), XenstoreTestWire.ReadReply(sockets[i]));
            }

            int after = ThreadCount();
            Assert.True(after - before <= 8, $"threads before {before}, with 1,000 connections {after}");
        }
        finally
        {
            foreach (Socket socket in sockets)
            {
                socket.Dispose();
            }
        }

        await WaitForConnections(server.Server, 0);
    }

    [Theory(Timeout = XenstoreTestTimeouts.Test)]
    [MemberData(nameof(XenstoreTestBackends.All), MemberType = typeof(XenstoreTestBackends))]
    public async Task Clients_that_never_read_stay_bounded_while_a_storm_goes_on_and_others_are_served(string backend)
    {
        // The pipeliner below must outlive the storm however slow the machine: no send timeout within the test.
        await using var server = XenstoreTestServer.Start(new XenstoreServerOptions
        {
            SendTimeout = TimeSpan.FromMinutes(5),
            PollBackend = Enum.Parse<PollBackend>(backend),
        });
        await using XenstoreClient writer = await server.ConnectAsync();
        await using XenstoreClient bystander = await server.ConnectAsync();
        string longName = new('n', 2000);
        for (int i = 0; i < 10; i++)
        {
            await writer.WriteAsync($"/storm/{i}/{longName}", "v");
        }

        await writer.WriteAsync("/big", new string('b', 4000));

        // A watcher that never reads its events: each event carries a ~2 KiB path.
        using Socket lazyWatcher = ConnectUnix(server);
        lazyWatcher.ReceiveBufferSize = 4096;
        lazyWatcher.Send(Message(Watch, 1, "/storm\0lazy\0"));

        // A pipeliner that never reads its replies: 3,000 reads of a 4 KB node (12 MB of replies) sent at once.
        using Socket pipeliner = ConnectUnix(server);
        pipeliner.ReceiveBufferSize = 4096;
        const int pipelined = 3000;
        byte[] requests = Enumerable.Range(1, pipelined).SelectMany(i => Message(Read, (uint)i, "/big\0")).ToArray();
        // May block once the server stops reading this client (its replies unsent) and the socket's buffer is full.
        Task send = Task.Run(() => pipeliner.Send(requests));
        await WaitForConnections(server.Server, 4);

        GC.Collect();
        GC.WaitForPendingFinalizers();
        long heapBefore = GC.GetTotalMemory(forceFullCollection: true);

        // The storm: 3,000 changes, each an event of ~2 KiB for the lazy watcher (6 MB if it were all kept).
        for (int i = 0; i < 3000; i++)
        {
            await writer.WriteAsync($"/storm/{i % 10}/{longName}", i.ToString(System.Globalization.CultureInfo.InvariantCulture));
            if (i % 500 == 0)
            {
                Assert.Equal("b", (await bystander.ReadStringAsync("/big"))[..1]);
            }
        }

        long heapAfter = GC.GetTotalMemory(forceFullCollection: true);
        Assert.True(heapAfter - heapBefore < 4 << 20, $"the heap grew by {(heapAfter - heapBefore) >> 10} KiB during the storm");

        // The watcher went past the 1 MiB output bound and was closed; the pipeliner is only not read.
        await WaitForConnections(server.Server, 3);

        // Once the pipeliner reads, every reply arrives, in order, and its remaining requests are answered.
        for (int i = 1; i <= pipelined; i++)
        {
            (uint type, uint id, string payload) = XenstoreTestWire.ReadReply(pipeliner);
            Assert.Equal((Read, (uint)i, 4000), (type, id, payload.Length));
        }

        await send.WaitAsync(TimeSpan.FromSeconds(10));
        await writer.WriteAsync("/after", "ok");
        Assert.Equal("ok", await bystander.ReadStringAsync("/after"));
    }

    [Theory(Timeout = XenstoreTestTimeouts.Test)]
    [MemberData(nameof(XenstoreTestBackends.All), MemberType = typeof(XenstoreTestBackends))]
    public async Task A_client_whose_output_makes_no_progress_for_the_send_timeout_is_closed(string backend)
    {
        await using var server = XenstoreTestServer.Start(new XenstoreServerOptions
        {
            SendTimeout = TimeSpan.FromSeconds(1),
            PollBackend = Enum.Parse<PollBackend>(backend),
        });
        await using XenstoreClient bystander = await server.ConnectAsync();
        await bystander.WriteAsync("/big", new string('b', 4000));

        // 500 reads of 4 KB pipelined, never read: the replies fill the socket, the server stops reading this client.
        using Socket stalled = ConnectUnix(server);
        stalled.ReceiveBufferSize = 4096;
        stalled.Send(Enumerable.Range(1, 500).SelectMany(i => Message(Read, (uint)i, "/big\0")).ToArray());
        await WaitForConnections(server.Server, 2);

        // Closed within the timeout plus the once-a-second check; the bystander is unaffected.
        var stopwatch = Stopwatch.StartNew();
        await WaitForConnections(server.Server, 1);
        Assert.True(stopwatch.Elapsed < TimeSpan.FromSeconds(5), $"closed after {stopwatch.Elapsed}");
        Assert.Equal(4000, (await bystander.ReadStringAsync("/big")).Length);
    }

    [Theory(Timeout = XenstoreTestTimeouts.Test)]
    [MemberData(nameof(XenstoreTestBackends.All), MemberType = typeof(XenstoreTestBackends))]
    public async Task Stop_with_many_connections_some_stalled_completes_promptly_and_every_peer_sees_the_end(string backend)
    {
        var server = XenstoreTestBackends.Start(backend);
        var sockets = new List<Socket>();
        try
        {
            await using (XenstoreClient setup = await server.ConnectAsync())
            {
                await setup.WriteAsync("/big", new string('b', 4000));
            }

            for (int i = 0; i < 400; i++)
            {
                sockets.Add(i % 2 == 0 ? ConnectUnix(server) : server.Server.ConnectInProcess(i % 4 == 1 ? 0 : 7));
            }

            // Twenty of them stalled: their replies fill the socket and they do not read.
            byte[] requests = Enumerable.Range(1, 500).SelectMany(i => Message(Read, (uint)i, "/big\0")).ToArray();
            for (int i = 0; i < 20; i++)
            {
                sockets[i * 2].Blocking = false;
                try
                {
                    sockets[i * 2].Send(requests);
                }
                catch (SocketException e) when (e.SocketErrorCode == SocketError.WouldBlock)
                {
                }

                sockets[i * 2].Blocking = true;
            }

            await WaitForConnections(server.Server, 400);
            var stopwatch = Stopwatch.StartNew();
            await server.Server.DisposeAsync();
            stopwatch.Stop();
            Assert.True(stopwatch.Elapsed < TimeSpan.FromSeconds(3), $"stop took {stopwatch.Elapsed}");
            Assert.Equal(0, server.Server.ConnectionCount);

            // Every peer reaches the end of its stream (after whatever replies were already sent).
            byte[] sink = new byte[64 * 1024];
            foreach (Socket socket in sockets)
            {
                socket.ReceiveTimeout = 5000;
                try
                {
                    while (socket.Receive(sink) > 0)
                    {
                    }
                }
                catch (SocketException e) when (e.SocketErrorCode == SocketError.ConnectionReset)
                {
                }
            }
        }
        finally
        {
            foreach (Socket socket in sockets)
            {
                socket.Dispose();
            }

            await server.DisposeAsync();
        }
    }
}
