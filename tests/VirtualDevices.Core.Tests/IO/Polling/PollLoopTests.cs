using System.Net.Sockets;
using VirtualDevices.IO;
using VirtualDevices.IO.Polling;

namespace VirtualDevices.Tests.IO.Polling;

/// <summary>
/// The reusable poll loop: readiness reaches the right handler on the loop's thread; posted work too. Run against each
/// backend by the derived classes (epoll, and poll(2) as macOS uses it).
/// </summary>
public abstract class PollLoopTests
{
    private protected abstract PollBackend Backend { get; }

    /// <summary>Reads what is ready and records the thread and the bytes.</summary>
    private sealed class RecordingHandler(SocketTransport transport) : IPollHandler
    {
        public readonly List<byte> Received = [];
        public readonly SemaphoreSlim Signal = new(0);
        public int ThreadId;
        public PollEvents Last;

        public void OnPollEvents(PollEvents events)
        {
            ThreadId = Environment.CurrentManagedThreadId;
            Last = events;
            Span<byte> buffer = stackalloc byte[256];
            int read = transport.ReceiveNonBlocking(buffer);
            if (read > 0)
            {
                lock (Received)
                {
                    Received.AddRange(buffer[..read].ToArray());
                }
            }

            Signal.Release();
        }
    }

    [Fact(Timeout = 30_000)]
    public async Task Ready_descriptors_reach_their_handlers_on_the_loop_thread_and_stop_after_removal()
    {
        using var loop = new PollLoop("test-poll", Backend);
        (Socket a1, Socket a2) = SocketPair.Create("TestSocketPair", "test");
        (Socket b1, Socket b2) = SocketPair.Create("TestSocketPair", "test");
        using var ta = new SocketTransport(a2, "a");
        using var tb = new SocketTransport(b2, "b");
        using (a1)
        using (b1)
        {
            var ha = new RecordingHandler(ta);
            Assert.Equal(Backend, loop.Backend);
            var hb = new RecordingHandler(tb);
            PollRegistration ra = loop.Register(ta.PollHandle!, PollEvents.Readable, ha);
            PollRegistration rb = loop.Register(tb.PollHandle!, PollEvents.Readable, hb);
            Assert.Equal(2, loop.Count);

            a1.Send("hello"u8);
            Assert.True(await ha.Signal.WaitAsync(10_000));
            Assert.Equal("hello"u8.ToArray(), ha.Received);
            Assert.Empty(hb.Received);
            Assert.Equal(PollEvents.Readable, ha.Last & PollEvents.Readable);
            Assert.NotEqual(Environment.CurrentManagedThreadId, ha.ThreadId);

            b1.Send("x"u8);
            Assert.True(await hb.Signal.WaitAsync(10_000));
            Assert.Equal(ha.ThreadId, hb.ThreadId);

            // Interest in writing: an idle socket pair is writable at once.
            rb.Modify(PollEvents.Writable);
            Assert.True(await hb.Signal.WaitAsync(10_000));
            Assert.Equal(PollEvents.Writable, hb.Last & PollEvents.Writable);
            rb.Remove();

            // Work posted from another thread runs on the loop's thread.
            var posted = new TaskCompletionSource<int>(TaskCreationOptions.RunContinuationsAsynchronously);
            loop.Post(() => posted.SetResult(Environment.CurrentManagedThreadId));
            Assert.Equal(ha.ThreadId, await posted.Task.WaitAsync(TimeSpan.FromSeconds(10)));

            // After removal, nothing more is delivered.
            ra.Remove();
            Assert.Equal(0, loop.Count);
            a1.Send("more"u8);
            Assert.False(await ha.Signal.WaitAsync(300));
            Assert.Equal(5, ha.Received.Count);
        }
    }

    [Fact(Timeout = 30_000)]
    public async Task Dispose_stops_the_loop_thread_after_posted_work_and_refuses_new_registrations()
    {
        var loop = new PollLoop("test-poll-stop", Backend);
        using var first = new ManualResetEventSlim();
        using var second = new ManualResetEventSlim();
        loop.Post(first.Set);
        loop.Post(second.Set);
        loop.Dispose();
        // Work posted before the stop has run; the thread is gone, so work posted after never runs.
        Assert.True(first.IsSet && second.IsSet);
        using var late = new ManualResetEventSlim();
        loop.Post(late.Set);
        Assert.False(late.Wait(300));

        (Socket s1, Socket s2) = SocketPair.Create("TestSocketPair", "test");
        using var t = new SocketTransport(s2, "t");
        await Task.Yield();
        using (s1)
        {
            Assert.Throws<ObjectDisposedException>(() => loop.Register(t.PollHandle!, PollEvents.Readable, new RecordingHandler(t)));
        }
    }

    /// <summary>Records whether its registration had been handed over by the time of its first event.</summary>
    private sealed class AttachingHandler : IPollHandler
    {
        public readonly TaskCompletionSource<PollRegistration?> FirstEvent = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public PollRegistration? Registration;

        public void OnRegistered(PollRegistration registration) => Registration = registration;

        public void OnPollEvents(PollEvents events)
        {
            FirstEvent.TrySetResult(Registration);
            Registration?.Modify(PollEvents.None);
        }
    }

    [Fact(Timeout = 30_000)]
    public async Task A_handler_has_its_registration_before_its_first_event()
    {
        // The descriptor is ready before it is registered, so the loop may call the handler before Register returns
        // (the xenstore server's connections crashed so, with a null registration, on the poll backend).
        using var loop = new PollLoop("test-poll-attach", Backend);
        for (int i = 0; i < 20; i++)
        {
            (Socket peer, Socket mine) = SocketPair.Create("TestSocketPair", "test");
            using var transport = new SocketTransport(mine, "t");
            using (peer)
            {
                peer.Send("x"u8);
                var handler = new AttachingHandler();
                PollRegistration registration = loop.Register(transport.PollHandle!, PollEvents.Readable, handler);
                Assert.Same(registration, await handler.FirstEvent.Task.WaitAsync(TimeSpan.FromSeconds(10)));
                registration.Remove();
            }
        }
    }

    [Fact]
    public void The_override_chooses_the_backend_of_loops_created_under_it_and_linux_defaults_to_epoll()
    {
        using (PollBackendOverride.Force(Backend))
        {
            using var forced = new PollLoop("test-poll-forced");
            Assert.Equal(Backend, forced.Backend);
        }

        using var platform = new PollLoop("test-poll-platform");
        Assert.Equal(PollBackend.Epoll, platform.Backend);
    }

    [Fact(Timeout = 30_000)]
    public async Task Many_registrations_added_and_removed_from_another_thread_are_all_served()
    {
        // 40 descriptors: more than the poll backend's first array (16), so it grows; removing half and adding again
        // reuses slots. Each is served, level-triggered: data left unread is reported again.
        using var loop = new PollLoop("test-poll-many", Backend);
        var pairs = new List<(Socket Peer, SocketTransport Transport, RecordingHandler Handler, PollRegistration Registration)>();
        try
        {
            for (int i = 0; i < 40; i++)
            {
                (Socket peer, Socket mine) = SocketPair.Create("TestSocketPair", "test");
                var transport = new SocketTransport(mine, "t" + i);
                var handler = new RecordingHandler(transport);
                pairs.Add((peer, transport, handler, loop.Register(transport.PollHandle!, PollEvents.Readable, handler)));
            }

            for (int i = 0; i < 40; i += 2)
            {
                pairs[i].Registration.Remove();
            }

            Assert.Equal(20, loop.Count);
            for (int i = 0; i < 40; i++)
            {
                pairs[i].Peer.Send(new byte[300]);
            }

            for (int i = 1; i < 40; i += 2)
            {
                // 300 bytes, 256 per call: two calls at least, the second because the rest was left unread.
                CancellationToken ct = new CancellationTokenSource(10_000).Token;
                while (pairs[i].Handler.Received.Count < 300)
                {
                    Assert.True(await pairs[i].Handler.Signal.WaitAsync(10_000, ct), "descriptor " + i);
                }
            }

            for (int i = 0; i < 40; i += 2)
            {
                Assert.Empty(pairs[i].Handler.Received);
            }
        }
        finally
        {
            foreach ((Socket peer, SocketTransport transport, _, PollRegistration registration) in pairs)
            {
                registration.Remove();
                transport.Dispose();
                peer.Dispose();
            }
        }
    }
}

/// <summary>The poll loop's tests on epoll (Linux's backend).</summary>
public sealed class EpollPollLoopTests : PollLoopTests
{
    private protected override PollBackend Backend => PollBackend.Epoll;
}

/// <summary>The poll loop's tests on poll(2) with a socket-pair wake-up (macOS's backend), forced here on Linux.</summary>
public sealed class PosixPollLoopTests : PollLoopTests
{
    private protected override PollBackend Backend => PollBackend.Poll;
}
