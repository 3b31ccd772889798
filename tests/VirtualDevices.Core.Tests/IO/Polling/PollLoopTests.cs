using System.Net.Sockets;
using VirtualDevices.Interop;
using VirtualDevices.IO;
using VirtualDevices.IO.Polling;

namespace VirtualDevices.Tests.IO.Polling;

/// <summary>
/// The reusable poll loop: readiness reaches the right handler on the loop's thread; posted work too. Each test runs on
/// both backends: epoll (Linux's) and poll(2) with its socket-pair wake-up (macOS's), forced here on Linux.
/// </summary>
public sealed class PollLoopTests
{
    /// <summary>Both backends, by name (the enum is internal, a public test method cannot take it).</summary>
    public static TheoryData<string> Backends => new() { nameof(PollBackend.Epoll), nameof(PollBackend.Poll) };

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

    [Theory(Timeout = 30_000)]
    [MemberData(nameof(Backends))]
    public async Task Ready_descriptors_reach_their_handlers_on_the_loop_thread_and_stop_after_removal(string backend)
    {
        using var loop = new PollLoop("test-poll", Enum.Parse<PollBackend>(backend));
        Assert.Equal(Enum.Parse<PollBackend>(backend), loop.Backend);
        (Socket a1, Socket a2) = SocketPair.Create("TestSocketPair", "test");
        (Socket b1, Socket b2) = SocketPair.Create("TestSocketPair", "test");
        using var ta = new SocketTransport(a2, "a");
        using var tb = new SocketTransport(b2, "b");
        using (a1)
        using (b1)
        {
            var ha = new RecordingHandler(ta);
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

    /// <summary>Counts its events (a descriptor that is never read would be reported again and again).</summary>
    private sealed class CountingHandler : IPollHandler
    {
        public readonly SemaphoreSlim Signal = new(0);
        public int Count;
        public PollEvents Last;

        public void OnPollEvents(PollEvents events)
        {
            Interlocked.Increment(ref Count);
            Last = events;
            Signal.Release();
        }
    }

    [Fact(Timeout = 30_000)]
    public async Task The_poll_backend_reports_a_descriptor_closed_while_registered_as_a_hang_up_once_and_does_not_spin()
    {
        // poll(2) answers POLLNVAL at once, every time, for a descriptor that is not open: kept in the array, the loop
        // would spin a core. (epoll forgets such a descriptor silently: nothing to report there.) The descriptor is
        // closed underneath its handle, as a peer library or a bug might.
        using var loop = new PollLoop("test-poll", PollBackend.Poll);
        using SafeFileDescriptor eventFd = Unix.EventFd(0, Unix.EFD_CLOEXEC | Unix.EFD_NONBLOCK);
        Assert.False(eventFd.IsInvalid);

        // At a number far above the ones in use: other tests of this process open descriptors meanwhile, and the
        // lowest free number, once closed, may be theirs a moment later (then poll sees a valid descriptor, not
        // POLLNVAL: a first version of this test waited in vain so in CI).
        int fd = Unix.Fcntl(eventFd, Unix.F_DUPFD_CLOEXEC, 900);
        Assert.True(fd >= 900, $"F_DUPFD_CLOEXEC gave {fd}");
        using var high = new SafeFileDescriptor(fd, ownsHandle: true);
        var handler = new CountingHandler();
        PollRegistration registration = loop.Register(high, PollEvents.Readable, handler);

        // The number is closed but the handle still believes it open, as when another library closed it: the loop
        // cannot tell from the handle (a first version marked the handle invalid at once, and a loop that rebuilt its
        // array after that rightly left the descriptor out, so nothing was reported: CI saw it wait in vain).
        Assert.Equal(0, Unix.Close(fd));
        loop.Post(static () => { }); // a turn of the loop with the closed descriptor in its array
        Assert.True(await handler.Signal.WaitAsync(10_000));
        Assert.Equal(PollEvents.Error | PollEvents.HangUp, handler.Last & (PollEvents.Error | PollEvents.HangUp));

        // Once: the descriptor left the loop's array.
        for (int i = 0; i < 20; i++)
        {
            loop.Post(static () => { });
        }

        await Task.Delay(300);
        Assert.Equal(1, Volatile.Read(ref handler.Count));
        registration.Remove();
        high.SetHandleAsInvalid(); // closed already: the handle must not close the number again
    }

    [Theory(Timeout = 30_000)]
    [MemberData(nameof(Backends))]
    public async Task Dispose_stops_the_loop_thread_after_posted_work_and_refuses_new_registrations(string backend)
    {
        var loop = new PollLoop("test-poll-stop", Enum.Parse<PollBackend>(backend));
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
            PollRegistration? registration = Registration;
            registration?.Modify(PollEvents.None);
            FirstEvent.TrySetResult(registration);
        }
    }

    [Theory(Timeout = 30_000)]
    [MemberData(nameof(Backends))]
    public async Task A_handler_has_its_registration_before_its_first_event(string backend)
    {
        // The descriptor is ready before it is registered, so the loop may call the handler before Register returns
        // (the xenstore server's connections crashed so, with a null registration,).
        using var loop = new PollLoop("test-poll-attach", Enum.Parse<PollBackend>(backend));
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
    public void Linux_defaults_to_epoll()
    {
        Assert.Equal(PollBackend.Epoll, PollLoop.DefaultBackend);
        using var loop = new PollLoop("test-poll-default");
        Assert.Equal(PollBackend.Epoll, loop.Backend);
    }

    [Theory(Timeout = 30_000)]
    [MemberData(nameof(Backends))]
    public async Task Many_registrations_added_and_removed_from_another_thread_are_all_served(string backend)
    {
        // 40 descriptors: more than the poll backend's first array (16), so it grows; removing half and adding again
        // reuses slots. Each is served, level-triggered: data left unread is reported again.
        using var loop = new PollLoop("test-poll-many", Enum.Parse<PollBackend>(backend));
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

    /// <summary>
    /// Pauses itself on its first readable event (interest: writable), resumes on the writable event that follows
    /// (interest: readable again), and reads only then: the xenstore connection's pause and resume, done by the
    /// handler on the loop's thread (the poll backend changes its array in place then).
    /// </summary>
    private sealed class PausingHandler(SocketTransport transport) : IPollHandler
    {
        public readonly List<PollEvents> Seen = [];
        public readonly TaskCompletionSource<int> Done = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public PollRegistration? Registration;
        private int _received;

        public void OnRegistered(PollRegistration registration) => Registration = registration;

        public void OnPollEvents(PollEvents events)
        {
            Seen.Add(events & (PollEvents.Readable | PollEvents.Writable));
            if (Registration!.Interest == PollEvents.Readable && Seen.Count == 1)
            {
                Registration.Modify(PollEvents.Writable);
                return;
            }

            if (Registration.Interest == PollEvents.Writable)
            {
                Registration.Modify(PollEvents.Readable);
                return;
            }

            Span<byte> buffer = stackalloc byte[64];
            int read = transport.ReceiveNonBlocking(buffer);
            if (read > 0 && (_received += read) == 3)
            {
                Registration.Modify(PollEvents.None);
                Done.TrySetResult(Seen.Count);
            }
        }
    }

    [Theory(Timeout = 30_000)]
    [MemberData(nameof(Backends))]
    public async Task A_handler_that_changes_its_interest_on_the_loop_thread_hears_the_new_interest_next(string backend)
    {
        using var loop = new PollLoop("test-poll-pause", Enum.Parse<PollBackend>(backend));
        (Socket peer, Socket mine) = SocketPair.Create("TestSocketPair", "test");
        using var transport = new SocketTransport(mine, "t");
        using (peer)
        {
            var handler = new PausingHandler(transport);
            PollRegistration registration = loop.Register(transport.PollHandle!, PollEvents.Readable, handler);
            peer.Send("abc"u8);
            // Readable (pauses), writable (resumes), readable (reads all three bytes, then asks for nothing).
            await handler.Done.Task.WaitAsync(TimeSpan.FromSeconds(10));
            Assert.Equal([PollEvents.Readable, PollEvents.Writable, PollEvents.Readable], handler.Seen.Take(3));
            registration.Remove();
        }
    }
}
