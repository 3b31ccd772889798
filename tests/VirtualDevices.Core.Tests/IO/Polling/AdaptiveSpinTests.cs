using System.Diagnostics;
using System.Globalization;
using System.Net.Sockets;
using VirtualDevices.IO;
using VirtualDevices.IO.Polling;

namespace VirtualDevices.Tests.IO.Polling;

/// <summary>
/// The poll loop's spin before sleeping: the window grows to cover a steady short gap between events, falls to
/// nothing when events stop coming soon, and a loop that spins still serves its descriptors and posted work and goes
/// back to sleeping when idle (the thread's own CPU time, from /proc, not a timing).
/// </summary>
public sealed class AdaptiveSpinTests
{
    private static long Ticks(double microseconds) => (long)(microseconds * Stopwatch.Frequency / 1_000_000);

    [Fact]
    public void A_steady_short_gap_grows_the_window_until_polling_catches_it_and_it_then_stays()
    {
        var spin = new AdaptiveSpin(TimeSpan.FromMicroseconds(100));
        Assert.Equal(0, spin.Window);
        int misses = 0;
        // A blocking client's next request comes about 40 µs after the reply: slept through until the window covers it.
        while (spin.Window < Ticks(40))
        {
            spin.Record(Ticks(40), caughtPolling: false);
            Assert.True(++misses <= 4, $"window {spin.Window} ticks after {misses} misses");
        }

        Assert.Equal(3, misses); // 12.5, 25, then 50 µs
        long window = spin.Window;
        for (int i = 0; i < 100; i++)
        {
            spin.Record(Ticks(40), caughtPolling: true);
        }

        Assert.Equal(window, spin.Window);
        Assert.True(spin.Window <= spin.Max);
    }

    [Fact]
    public void Gaps_longer_than_the_longest_window_shrink_it_to_nothing_and_it_never_exceeds_the_longest()
    {
        var spin = new AdaptiveSpin(TimeSpan.FromMicroseconds(100));
        for (int i = 0; i < 10; i++)
        {
            spin.Record(Ticks(10), caughtPolling: false);
        }

        Assert.Equal(spin.Max, spin.Window);
        int longGaps = 0;
        while (spin.Window > 0)
        {
            spin.Record(Ticks(1_000), caughtPolling: false);
            Assert.True(++longGaps <= 5, $"window {spin.Window} ticks after {longGaps} long gaps");
        }

        Assert.Equal(5, longGaps); // 50, 25, 12.5, 6.25 µs, then none
    }

    [Fact]
    public void A_zero_spin_never_polls()
    {
        var spin = new AdaptiveSpin(TimeSpan.Zero);
        spin.Record(Ticks(10), caughtPolling: false);
        spin.Record(1, caughtPolling: false);
        Assert.Equal(0, spin.Max);
        Assert.Equal(0, spin.Window);
    }

    /// <summary>Answers every byte with one byte.</summary>
    private sealed class EchoHandler(SocketTransport transport) : IPollHandler
    {
        public void OnPollEvents(PollEvents events)
        {
            Span<byte> buffer = stackalloc byte[64];
            int read = transport.ReceiveNonBlocking(buffer);
            if (read > 0)
            {
                transport.SendNonBlocking(buffer[..read]);
            }
        }
    }

    [Theory(Timeout = 60_000)]
    [MemberData(nameof(PollLoopTests.Backends), MemberType = typeof(PollLoopTests))]
    public async Task A_spinning_loop_answers_a_blocking_ping_pong_serves_posted_work_and_sleeps_when_idle(string backend)
    {
        string name = "test-spin-" + backend.ToLowerInvariant()[..4];
        using var loop = new PollLoop(name, Enum.Parse<PollBackend>(backend), TimeSpan.FromMicroseconds(100));
        (Socket client, Socket served) = SocketPair.Create("TestSocketPair", "test");
        using var transport = new SocketTransport(served, "served");
        using (client)
        {
            PollRegistration registration = loop.Register(transport.PollHandle!, PollEvents.Readable, new EchoHandler(transport));
            try
            {
                byte[] one = new byte[1];
                for (int i = 0; i < 5_000; i++)
                {
                    // Back to back: the gap the loop sees is this thread's wake-up, which the window grows to cover.
                    client.Send([(byte)i]);
                    Assert.Equal(1, client.Receive(one));
                    Assert.Equal((byte)i, one[0]);
                }

                // Work posted while the loop may be polling is run (the wake-up descriptor is among those polled).
                var posted = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                loop.Post(posted.SetResult);
                await posted.Task.WaitAsync(TimeSpan.FromSeconds(10));

                // Isolated events (5 ms apart, longer than the longest window): after a few, the loop sleeps at once
                // after each; a window that stayed open would poll 100 µs after every one (about 30 µs each sleeping here, 130-190 polling).
                double before = LoopThreadCpuMilliseconds(name);
                const int Isolated = 100;
                for (int i = 0; i < Isolated; i++)
                {
                    client.Send([(byte)i]);
                    Assert.Equal(1, client.Receive(one));
                    Thread.Sleep(5);
                }

                double perEvent = (LoopThreadCpuMilliseconds(name) - before) * 1000 / Isolated;
                Assert.True(perEvent < 80, $"the loop thread used {perEvent:F1} µs of CPU per isolated event");

                // Idle: no polling at all (a spin without its bound would use the whole second).
                before = LoopThreadCpuMilliseconds(name);
                await Task.Delay(1_000);
                double idle = LoopThreadCpuMilliseconds(name) - before;
                Assert.True(idle < 5, $"the idle loop thread used {idle:F2} ms of CPU in a second");
            }
            finally
            {
                // Before the sockets close: a hang-up reported to a handler whose transport is gone would throw on the loop.
                registration.Remove();
            }
        }
    }

    /// <summary>The CPU time of the thread named <paramref name="name"/> in this process (the scheduler's own count, in ms with ns precision).</summary>
    private static double LoopThreadCpuMilliseconds(string name)
    {
        foreach (string task in Directory.GetDirectories("/proc/self/task"))
        {
            if (File.ReadAllText(Path.Combine(task, "comm")).Trim() == name)
            {
                string line = File.ReadLines(Path.Combine(task, "sched")).First(l => l.StartsWith("se.sum_exec_runtime", StringComparison.Ordinal));
                return double.Parse(line[(line.IndexOf(':') + 1)..].Trim(), CultureInfo.InvariantCulture);
            }
        }

        throw new InvalidOperationException($"no thread named {name}");
    }
}
