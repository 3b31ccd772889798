using VirtualDevices.Block;
using VirtualDevices.Nbd.Server;
using VirtualDevices.Tests.Infrastructure;

namespace VirtualDevices.Tests.Nbd;

/// <summary>
/// Idle clients that fill the connection limit must not lock out new ones: the one idle longest is closed (cleanly)
/// to make room, a client with a request in progress never is, and a fresh nbdinfo is served.
/// </summary>
public sealed class NbdServerIdleEvictionTests
{
    private const int Size = 1 << 20;
    private const int GatedOffset = Size / 2;

    [Fact]
    public async Task AFreshNbdinfoIsServedWhenIdleClientsFillTheLimitAndABusyClientIsNeverEvicted()
    {
        using var dir = new TempDirectory();
        string socket = dir.File("idle.sock");
        CancellationToken ct = NbdPeers.Deadline();
        await using var device = new GatedDevice();
        var options = new NbdServerOptions { UnixSocketPath = socket, MaximumConnections = 8, IdleEvictionAge = TimeSpan.FromSeconds(1) };
        await using var server = new NbdServer(options, new NbdExport("", device));
        await server.StartAsync(ct);

        // The busy client comes first, so it has been quiet longest: only its request in progress protects it.
        using NbdRawClient busy = await NbdRawClient.ConnectAsync(socket, ct);
        await busy.SendAsync(NbdRawClient.ReadRequest(1, GatedOffset, 4096), ct);
        await device.Entered.WaitAsync(ct);

        var idle = new List<NbdRawClient>();
        var extra = new List<NbdRawClient>();
        try
        {
            for (int i = 1; i < options.MaximumConnections; i++)
            {
                idle.Add(await NbdRawClient.ConnectAsync(socket, ct));
            }

            Assert.Equal(options.MaximumConnections, server.ConnectionCount);
            await Task.Delay(options.IdleEvictionAge + TimeSpan.FromMilliseconds(200), ct);

            // The limit is full of idle clients: nbdinfo is served all the same, by evicting the one idle longest.
            ProcessResult info = await ExternalProcess.RunAsync("nbdinfo", ["--size", $"nbd+unix:///?socket={socket}"], TimeSpan.FromSeconds(30));
            Assert.Equal($"{Size}", info.EnsureSuccess("nbdinfo").StandardOutput.Trim());
            Assert.Equal(1, server.GetStatistics().EvictedConnections);
            Assert.Equal("closed cleanly", await HowItEndsAsync(idle[0], ct)); // the one idle longest

            // More newcomers evict the other idle clients, oldest first, and never the busy one.
            for (int i = 0; i < 40 && server.GetStatistics().EvictedConnections < idle.Count; i++)
            {
                try
                {
                    extra.Add(await NbdRawClient.ConnectAsync(socket, ct));
                }
                catch (EndOfStreamException)
                {
                    // Turned away: nothing was idle long enough yet.
                    await Task.Delay(100, ct);
                }
            }

            Assert.Equal(idle.Count, server.GetStatistics().EvictedConnections);
            foreach (NbdRawClient client in idle)
            {
                Assert.Equal("closed cleanly", await HowItEndsAsync(client, ct));
            }

            // The busy client kept its connection: its request completes and it goes on being served.
            device.Open();
            Assert.Equal(0u, await busy.ReceiveSimpleReplyAsync(1, 4096, ct));
            await busy.SendAsync(NbdRawClient.ReadRequest(2, 0, 4096), ct);
            Assert.Equal(0u, await busy.ReceiveSimpleReplyAsync(2, 4096, ct));
        }
        finally
        {
            device.Open();
            foreach (NbdRawClient client in idle.Concat(extra))
            {
                client.Dispose();
            }
        }
    }

    /// <summary>How the server ends an idle client's connection, waiting at most 10 s.</summary>
    private static async Task<string> HowItEndsAsync(NbdRawClient client, CancellationToken ct)
    {
        using var bound = CancellationTokenSource.CreateLinkedTokenSource(ct);
        bound.CancelAfter(TimeSpan.FromSeconds(10));
        try
        {
            return await client.WaitForCloseAsync(bound.Token) ? "closed cleanly" : "reset";
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            return "still open after 10 s";
        }
    }

    /// <summary>Reads from the second half wait until the test opens the gate: a request that stays in progress.</summary>
    private sealed class GatedDevice() : BlockDevice(null, "gated", "test", new BlockDeviceInfo(512, Size / 512, readOnly: true, BlockFeatures.None))
    {
        private readonly TaskCompletionSource _gate = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly TaskCompletionSource _entered = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public Task Entered => _entered.Task;

        public void Open() => _gate.TrySetResult();

        protected override ValueTask ReadCoreAsync(long offset, Memory<byte> buffer, CancellationToken cancellationToken)
        {
            buffer.Span.Clear();
            if (offset < GatedOffset)
            {
                return default;
            }

            _entered.TrySetResult();
            return new ValueTask(_gate.Task);
        }

        protected override ValueTask WriteCoreAsync(long offset, ReadOnlyMemory<byte> buffer, BlockWriteOptions options, CancellationToken cancellationToken) => default;
    }
}
