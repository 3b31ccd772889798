using System.Net.Sockets;
using System.Text;
using VirtualDevices.IO;
using VirtualDevices.IO.Polling;
using VirtualDevices.Xen.Xenstore;
using VirtualDevices.Xen.Xenstore.Protocol;
using VirtualDevices.Xen.Xenstore.Server;

namespace VirtualDevices.Tests.Xenstore;

/// <summary>
/// The server's pause and resume of a pipelining client, at the exact moments that went wrong. The windows are a few
/// microseconds of the loop's thread, which a real peer hits only now and then (the storm test hung in about one CI
/// run in three); a transport over a real socket pair makes the kernel's answers (a full send buffer once, a short
/// read) happen at the chosen call instead.
/// </summary>
public sealed class XenstoreServerPauseResumeTests
{
    private const uint Read = (uint)XenstoreMessageType.Read;

    /// <summary>
    /// A socket transport whose first non-blocking send finds the socket full (returns 0, as <c>EAGAIN</c> does) and
    /// whose first non-blocking receive returns at most <see cref="FirstReceiveLimit"/> bytes (a short read).
    /// Everything else goes to the socket unchanged.
    /// </summary>
    private sealed class FullOnceTransport : Transport
    {
        private readonly SocketTransport _inner;
        private int _sends;
        private int _receives;

        public FullOnceTransport(Socket socket) => _inner = new SocketTransport(socket, "a test client");

        public int FirstReceiveLimit { get; init; } = int.MaxValue;

        public override string Description => _inner.Description;

        public override System.Runtime.InteropServices.SafeHandle? PollHandle => _inner.PollHandle;

        public override int ReceiveNonBlocking(Span<byte> buffer) =>
            _inner.ReceiveNonBlocking(Interlocked.Increment(ref _receives) == 1 && buffer.Length > FirstReceiveLimit ? buffer[..FirstReceiveLimit] : buffer);

        public override int SendNonBlocking(ReadOnlySpan<byte> data) =>
            Interlocked.Increment(ref _sends) == 1 ? 0 : _inner.SendNonBlocking(data);

        public override int Receive(Span<byte> buffer) => _inner.Receive(buffer);

        public override void Send(ReadOnlySpan<byte> data) => _inner.Send(data);

        public override void Shutdown() => _inner.Shutdown();

        public override void Dispose() => _inner.Dispose();
    }

    private static byte[] Requests(int count) =>
        Enumerable.Range(1, count).SelectMany(i => XenstoreTestWire.Message(Read, (uint)i, 0, Encoding.ASCII.GetBytes("/node\0"))).ToArray();

    /// <summary>
    /// A pipelined batch longer than <see cref="XenstoreServerOptions.MaxOutstandingRequests"/> (20) meets a full
    /// socket after the first 20 answers, so the rest are kept; then the peer reads, and the flush that ends the batch
    /// sends everything. The server resumed reading instead of answering the kept requests: with
    /// nothing more coming it never answered them (the storm test's hang); with more requests in the socket, its next
    /// receive appended 64 KiB to 5 KiB of kept bytes, past the end of its input buffer, and the exception ended the
    /// loop's thread (the test host crashed).
    /// </summary>
    /// <summary>
    /// On each backend: 25 requests and nothing more in the socket (a hang before the fix); 300, of which the first
    /// receive takes 250 (the rest still in the socket: a crash before the fix).
    /// </summary>
    public static TheoryData<string, int, int> Cases
    {
        get
        {
            var cases = new TheoryData<string, int, int>();
            foreach (string backend in new[] { nameof(PollBackend.Epoll), nameof(PollBackend.Poll) })
            {
                cases.Add(backend, 25, int.MaxValue);
                cases.Add(backend, 300, 250 * 22);
            }

            return cases;
        }
    }

    [Theory(Timeout = XenstoreTestTimeouts.Test)]
    [MemberData(nameof(Cases))]
    public async Task Requests_kept_when_the_output_was_full_are_answered_after_it_drains(string backend, int count, int firstReceiveLimit)
    {
        await using var server = new XenstoreServer(XenstoreTestBackends.Options(backend));
        (Socket client, Socket served) = SocketPair.Create(DeviceErrorIds.Xenstore.SocketPairFailed, XenstoreException.XenstoreDeviceName);
        using (client)
        {
            using (Socket setup = server.ConnectInProcess())
            {
                setup.Send(XenstoreTestWire.Message((uint)XenstoreMessageType.Write, 1, 0, Encoding.ASCII.GetBytes("/node\0v")));
                Assert.Equal(((uint)XenstoreMessageType.Write, 1u, "OK\0"), XenstoreTestWire.ReadReply(setup));
            }

            // Every request is in the socket before the server first reads it: one receive takes them (or the limit).
            client.Send(Requests(count));
            server.AttachTransport(new FullOnceTransport(served) { FirstReceiveLimit = firstReceiveLimit }, 0);

            client.ReceiveTimeout = 10_000;
            for (int i = 1; i <= count; i++)
            {
                Assert.Equal((Read, (uint)i, "v"), XenstoreTestWire.ReadReply(client));
            }

            // Served as before: one more request after the batch.
            client.Send(XenstoreTestWire.Message(Read, 9999, 0, Encoding.ASCII.GetBytes("/node\0")));
            Assert.Equal((Read, 9999u, "v"), XenstoreTestWire.ReadReply(client));
        }
    }
}
