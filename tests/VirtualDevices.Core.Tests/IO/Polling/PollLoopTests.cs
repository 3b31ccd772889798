using System.Net.Sockets;
using VirtualDevices.IO;
using VirtualDevices.IO.Polling;

namespace VirtualDevices.Tests.IO.Polling;

/// <summary>The reusable poll loop: readiness reaches the right handler on the loop's thread; posted work too.</summary>
public sealed class PollLoopTests
{
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
        using var loop = new PollLoop("test-poll");
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

    [Fact(Timeout = 30_000)]
    public async Task Dispose_stops_the_loop_thread_after_posted_work_and_refuses_new_registrations()
    {
        var loop = new PollLoop("test-poll-stop");
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
        // (the xenstore server's connections crashed so, with a null registration,).
        using var loop = new PollLoop("test-poll-attach");
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
}
