using System.Diagnostics;
using System.Net.Sockets;
using VirtualDevices.Nbd.Client;
using static VirtualDevices.Tests.Nbd.NbdTestWire;
using VirtualDevices.Tests.Infrastructure;

namespace VirtualDevices.Tests.Nbd;

/// <summary>
/// A multi-conn connect whose second (or later) connection fails or disagrees with the first must end within the
/// connect timeout with a typed error, and close every connection it opened (the server sees each one end) without
/// leaving a thread behind. Once, the clean-up waited for a reading thread that was never started: the connect hung.
/// </summary>
public sealed class NbdMultiConnFailureTests
{
    /// <summary>Every test here ends well inside this, or fails as hung.</summary>
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(10);

    private static readonly TimeSpan ConnectTimeout = TimeSpan.FromSeconds(2);

    private const ulong ExportSize = 1 << 20;

    // NBD_FLAG_HAS_FLAGS | NBD_FLAG_SEND_FLUSH | NBD_FLAG_CAN_MULTI_CONN.
    private const ushort MultiConnFlags = 1 | 4 | 0x100;

    public enum Misbehaviour
    {
        /// <summary>A correct handshake.</summary>
        None,

        /// <summary>Another export size than the first connection's.</summary>
        OtherSize,

        /// <summary>Other transmission flags (no flush) than the first connection's.</summary>
        OtherFlags,

        /// <summary>Closes the connection as soon as it is accepted (what nbdkit's limit filter does).</summary>
        Refuse,

        /// <summary>Accepts, then never says a word.</summary>
        Silent,

        /// <summary>Answers every connection correctly, but waits 0.6 of the connect timeout before greeting.</summary>
        Slow,
    }

    [Theory]
    [InlineData(Misbehaviour.OtherSize, "NbdProtocolError")]
    [InlineData(Misbehaviour.OtherFlags, "NbdProtocolError")]
    [InlineData(Misbehaviour.Refuse, "DeviceDisconnected")]
    [InlineData(Misbehaviour.Silent, "NbdConnectTimeout")]
    public async Task ASecondConnectionThatFailsOrDisagreesEndsTheConnectWithATypedError(Misbehaviour misbehaviour, string errorId)
    {
        string name = $"mc{(int)misbehaviour}";
        await using var server = new MultiConnServer(misbehaviour);
        var clock = Stopwatch.StartNew();
        Task<NbdBlockDevice> connect = NbdClient.ConnectAsync(server.Options(name, connections: 4));
        DeviceException error = await Assert.ThrowsAnyAsync<DeviceException>(() => connect.WaitAsync(Bound));
        clock.Stop();

        Assert.Equal(errorId, error.ErrorId);
        Assert.True(clock.Elapsed < ConnectTimeout + TimeSpan.FromSeconds(2), $"the connect took {clock.Elapsed}");
        Assert.True(server.Accepted >= 2, $"only {server.Accepted} connection(s) reached the server");
        await server.AssertEveryConnectionClosedAsync();
        AssertNoThreadsOf(name);
    }

    [Fact]
    public async Task TheConnectTimeoutBoundsTheWholeMultiConnSetNotEachConnection()
    {
        // Each connection alone is within the timeout (0.6 of it); four in a row are not: the connect must end at the
        // timeout, not after 4 x 0.6.
        await using var server = new MultiConnServer(Misbehaviour.Slow);
        var clock = Stopwatch.StartNew();
        DeviceException error = await Assert.ThrowsAnyAsync<DeviceException>(
            () => NbdClient.ConnectAsync(server.Options("mcslow", connections: 4)).WaitAsync(Bound));
        clock.Stop();

        Assert.Equal("NbdConnectTimeout", error.ErrorId);
        Assert.Equal(DeviceErrorCategory.OperationTimeout, error.Category);
        Assert.True(clock.Elapsed < ConnectTimeout + TimeSpan.FromSeconds(2), $"the connect took {clock.Elapsed}");
        await server.AssertEveryConnectionClosedAsync();
        AssertNoThreadsOf("mcslow");
    }

    [Fact]
    public async Task MultiConnThatAgreesStillConnects()
    {
        await using var server = new MultiConnServer(Misbehaviour.None);
        await using (NbdBlockDevice device = await NbdClient.ConnectAsync(server.Options("mcok", connections: 3)).WaitAsync(Bound))
        {
            Assert.Equal(3, device.ConnectionCount);
            Assert.Equal((long)ExportSize, device.ExportSize);

            // The thread check below sees a device's reading threads (one per connection) while they run.
            Assert.Equal(3, ThreadNames().Count(n => n == "nbd-read mcok"));
        }

        await server.AssertEveryConnectionClosedAsync();
        AssertNoThreadsOf("mcok");
    }

    [Fact]
    public async Task NbdkitWithTheLimitFilterRefusesTheSecondConnectionAndTheConnectReleasesTheFirst()
    {
        // nbdkit-limit-filter(1): with limit=1 a client connecting while another is connected is rejected (nbdkit
        // closes the socket before its greeting). The memory plugin advertises multi-conn, so the client tries a second.
        using var dir = new TempDirectory();
        string socket = dir.File("limit.sock");
        await using ExternalProcess nbdkit = await NbdPeers.NbdkitAsync(socket, "--filter=limit", "memory", "64M", "limit=1");
        NbdClientOptions options = NbdUri.Parse($"nbd+unix:///?socket={socket}") with { Connections = 4, ConnectTimeout = ConnectTimeout, DeviceName = "mclimit" };

        var clock = Stopwatch.StartNew();
        DeviceDisconnectedException error = await Assert.ThrowsAsync<DeviceDisconnectedException>(() => NbdClient.ConnectAsync(options).WaitAsync(Bound));
        clock.Stop();
        Assert.True(clock.Elapsed < ConnectTimeout + TimeSpan.FromSeconds(2), $"the connect took {clock.Elapsed}");
        Assert.Contains("connection 2 of 4", error.Message);
        AssertNoThreadsOf("mclimit");

        // The failed connect closed its first connection: nbdkit's single slot is free again (nbdkit frees it when it
        // sees the close, a moment later, so allow a few tries within the bound).
        var retry = Stopwatch.StartNew();
        while (true)
        {
            try
            {
                await using NbdBlockDevice single = await NbdClient.ConnectAsync(options with { Connections = 1, DeviceName = "mclimit1" }).WaitAsync(Bound);
                Assert.Equal(64L << 20, single.ExportSize);
                break;
            }
            catch (DeviceDisconnectedException) when (retry.Elapsed < TimeSpan.FromSeconds(5))
            {
                await Task.Delay(100);
            }
        }
    }

    /// <summary>No reading or writing thread of the device is left (Linux names threads after them, to 15 bytes).</summary>
    private static void AssertNoThreadsOf(string deviceName)
    {
        string[] prefixes = [Truncate($"nbd-read {deviceName}"), Truncate($"nbd-write {deviceName}")];
        var clock = Stopwatch.StartNew();
        while (true)
        {
            string[] left = ThreadNames().Where(n => prefixes.Contains(n, StringComparer.Ordinal)).ToArray();
            if (left.Length == 0)
            {
                return;
            }

            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(3), $"threads left: {string.Join(", ", left)}");
            Thread.Sleep(20);
        }

        static string Truncate(string s) => s.Length <= 15 ? s : s[..15];
    }

    private static IEnumerable<string> ThreadNames()
    {
        foreach (string task in Directory.EnumerateDirectories("/proc/self/task"))
        {
            string? comm = null;
            try
            {
                comm = File.ReadAllText(Path.Combine(task, "comm")).TrimEnd('\n');
            }
            catch (IOException)
            {
                // The thread ended while listing.
            }

            if (comm is not null)
            {
                yield return comm;
            }
        }
    }

    /// <summary>
    /// A fixed-newstyle server on a unix socket that advertises multi-conn: the first connection it accepts is served
    /// correctly, every later one gets the misbehaviour. Each connection's end (the client closing it) is recorded.
    /// </summary>
    private sealed class MultiConnServer : IAsyncDisposable
    {

        private readonly TempDirectory _dir = new();
        private readonly Socket _listener = new(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        private readonly CancellationTokenSource _stop = new(TimeSpan.FromSeconds(30));
        private readonly List<Task> _connections = [];
        private readonly Task _accepting;
        private readonly Misbehaviour _misbehaviour;
        private readonly string _path;

        public MultiConnServer(Misbehaviour misbehaviour)
        {
            _misbehaviour = misbehaviour;
            _path = _dir.File("multi.sock");
            _listener.Bind(new UnixDomainSocketEndPoint(_path));
            _listener.Listen(16);
            _accepting = Task.Run(AcceptAsync);
        }

        public int Accepted
        {
            get
            {
                lock (_connections)
                {
                    return _connections.Count;
                }
            }
        }

        public NbdClientOptions Options(string deviceName, int connections) =>
            NbdUri.Parse($"nbd+unix:///?socket={_path}") with
            {
                Connections = connections,
                ConnectTimeout = ConnectTimeout,
                RequestExtendedHeaders = false,
                DeviceName = deviceName,
            };

        /// <summary>Every connection the server accepted has been closed by the client (or was closed by the server).</summary>
        public async Task AssertEveryConnectionClosedAsync()
        {
            Task[] all;
            lock (_connections)
            {
                all = [.. _connections];
            }

            Task done = Task.WhenAll(all);
            Assert.True(await Task.WhenAny(done, Task.Delay(TimeSpan.FromSeconds(5))) == done,
                $"{all.Count(t => !t.IsCompleted)} of {all.Length} connection(s) still open at the client");
        }

        public async ValueTask DisposeAsync()
        {
            await _stop.CancelAsync();
            _listener.Dispose();
            try
            {
                await _accepting.WaitAsync(TimeSpan.FromSeconds(5));
            }
            catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
            {
            }

            _stop.Dispose();
            _dir.Dispose();
        }

        private async Task AcceptAsync()
        {
            while (!_stop.IsCancellationRequested)
            {
                Socket socket;
                try
                {
                    socket = await _listener.AcceptAsync(_stop.Token);
                }
                catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
                {
                    return;
                }

                lock (_connections)
                {
                    Misbehaviour behaviour = _connections.Count == 0 && _misbehaviour != Misbehaviour.Slow ? Misbehaviour.None : _misbehaviour;
                    _connections.Add(Task.Run(() => ServeAsync(socket, behaviour)));
                }
            }
        }

        /// <summary>Serves one connection until the client closes it; never throws.</summary>
        private async Task ServeAsync(Socket socket, Misbehaviour behaviour)
        {
            using (socket)
            {
                try
                {
                    await using var stream = new NetworkStream(socket, ownsSocket: false);
                    CancellationToken ct = _stop.Token;
                    if (behaviour == Misbehaviour.Refuse)
                    {
                        return;
                    }

                    if (behaviour == Misbehaviour.Slow)
                    {
                        await Task.Delay(ConnectTimeout * 0.6, ct);
                    }

                    if (behaviour != Misbehaviour.Silent)
                    {
                        await HandshakeAsync(stream, behaviour, ct);
                    }

                    // Until the client closes: whatever it sends (nothing, or NBD_CMD_DISC) is read and dropped.
                    byte[] sink = new byte[4096];
                    while (await stream.ReadAsync(sink, ct) > 0)
                    {
                    }
                }
                catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException or EndOfStreamException)
                {
                    // The client closed the connection mid-handshake.
                }
                catch (OperationCanceledException)
                {
                    // The server stopped (its 30 s bound, or the test's end).
                }
            }
        }

        private static Task HandshakeAsync(Stream stream, Misbehaviour behaviour, CancellationToken ct) =>
            ServeHandshakeAsync(
                stream,
                behaviour == Misbehaviour.OtherSize ? ExportSize * 2 : ExportSize,
                behaviour == Misbehaviour.OtherFlags ? (ushort)(MultiConnFlags & ~4) : MultiConnFlags,
                metaContextId: null,
                ct);
    }
}
