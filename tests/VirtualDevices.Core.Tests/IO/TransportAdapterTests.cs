using System.Net.Sockets;
using VirtualDevices.IO;

namespace VirtualDevices.Tests.IO;

/// <summary>
/// The adapters between transports and streams (what TLS rides on: a Stream over a socket's transport for SslStream,
/// and a transport over the SslStream for the reader, writer and input buffer), with a plain stream in TLS's place.
/// </summary>
public sealed class TransportAdapterTests
{
    private static (SocketTransport Left, SocketTransport Right) Pair()
    {
        (Socket first, Socket second) = SocketPair.Create("TestSocketPair", "test");
        return (new SocketTransport(first, "left"), new SocketTransport(second, "right"));
    }

    [Fact]
    public async Task AFrameWriterAndInputBufferWorkOverATransportOverAStream()
    {
        (SocketTransport left, SocketTransport right) = Pair();
        using var stacked = new StreamTransport(new TransportStream(left), left);
        using (right)
        {
            var failures = new List<Exception>();
            using var writer = new FrameWriter(stacked, "test-write", e => { lock (failures) { failures.Add(e); } });
            using var input = new InputBuffer(right);

            // A large payload takes the gathered path; small ones are batched with their headers.
            // (The reader runs first: the payload is larger than the socket's buffer, and the writer's sends block.)
            byte[] big = Enumerable.Range(0, 300 * 1024).Select(i => (byte)i).ToArray();
            byte[] received = new byte[4 + big.Length + 6];
            Task reading = Task.Factory.StartNew(() => input.ReadExactly(received), TaskCreationOptions.LongRunning);
            await Task.Run(() =>
            {
                writer.Enqueue(new Message([1, 2, 3, 4], big), mayBlock: true);
                writer.Enqueue(new Message([5, 6, 7, 8], [9, 10]), mayBlock: true);
            }).WaitAsync(TimeSpan.FromSeconds(10));
            await reading.WaitAsync(TimeSpan.FromSeconds(10));
            Assert.Equal([1, 2, 3, 4], received[..4]);
            Assert.Equal(big, received[4..(4 + big.Length)]);
            Assert.Equal([5, 6, 7, 8, 9, 10], received[(4 + big.Length)..]);
            Assert.Empty(failures);

            // Through the stream the other way too.
            right.Send([42, 43]);
            byte[] back = new byte[2];
            Assert.True(stacked.TryReceiveExactly(back));
            Assert.Equal([42, 43], back);
        }
    }

    [Fact]
    public async Task ShuttingDownTheStackedTransportWakesABlockedReceive()
    {
        (SocketTransport left, SocketTransport right) = Pair();
        using (right)
        using (var stacked = new StreamTransport(new TransportStream(left), left))
        {
            Task<int> blocked = Task.Factory.StartNew(() => stacked.Receive(new byte[16]), TaskCreationOptions.LongRunning);
            await Task.Delay(100);
            Assert.False(blocked.IsCompleted);
            stacked.Shutdown();
            Assert.Equal(0, await blocked.WaitAsync(TimeSpan.FromSeconds(10)));
        }
    }

    [Fact]
    public async Task AbortingATransportStreamEndsABlockedRead()
    {
        (SocketTransport left, SocketTransport right) = Pair();
        using (right)
        using (var stream = new TransportStream(left))
        using (var cancel = new CancellationTokenSource())
        using (stream.AbortOn(cancel.Token))
        {
            Task<int> blocked = Task.Factory.StartNew(() => stream.Read(new byte[16]), TaskCreationOptions.LongRunning);
            await Task.Delay(100);
            Assert.False(blocked.IsCompleted);
            cancel.Cancel();
            try
            {
                Assert.Equal(0, await blocked.WaitAsync(TimeSpan.FromSeconds(10)));
            }
            catch (Exception e) when (e is IOException or ObjectDisposedException)
            {
                // Either way the blocked read ended.
            }
        }
    }

    private sealed class Message(byte[] header, byte[] payload) : IOutgoingMessage
    {
        public int HeaderLength => header.Length;

        public ReadOnlyMemory<byte> Payload => payload;

        public void WriteHeader(Span<byte> destination) => header.CopyTo(destination);

        public bool BeginSend() => true;

        public void OnSent(Exception? error)
        {
        }
    }
}
