using System.Globalization;
using System.Net.Sockets;
using VirtualDevices.IO;
using VirtualDevices.Interop;
using VirtualDevices.Xen.Xenstore.Protocol;
using VirtualDevices.Xen.Xenstore.Server;

namespace VirtualDevices.Xen.Xenstore.Client;

/// <summary>
/// A xenstore client over xenstored's unix socket, a Xen guest's xenbus device or an in-process link to
/// <see cref="XenstoreServer"/>. Requests are multiplexed on one connection by request id: any number may be in
/// flight from any thread, and a reader thread completes each by its id (through the xenbus device they are written
/// one at a time, each after the previous reply, as its Linux driver requires). Watches deliver their events as async
/// streams and survive reconnections. Limits are checked before sending (4,096-byte payloads, 4,080 through xenbus),
/// so an oversized request fails with a typed error instead of getting the connection dropped; replies up to
/// 256 KiB are taken (oxenstored sends big directories whole).
/// </summary>
/// <example>
/// <code>
/// await using var xs = await XenstoreClient.ConnectAsync();
/// await xs.WriteAsync("/local/domain/0/name", "Domain-0");
/// string name = await xs.ReadStringAsync("/local/domain/0/name");
/// await xs.RunInTransactionAsync(async (tx, ct) => await tx.WriteAsync("a", "1", ct));
/// </code>
/// </example>
public sealed partial class XenstoreClient : IXenstoreStore, IAsyncDisposable, IDisposable
{
    private const int MaxMessageSize = XenstoreLimits.HeaderSize + XenstoreLimits.PayloadMax;
    private const int MaxDirectoryRestarts = 16;

    /// <summary>
    /// The largest reply payload the client accepts, although the protocol says 4096 (<see cref="XenstoreLimits.PayloadMax"/>):
    /// C xenstored never sends more (it answers E2BIG and lists big directories in DIRECTORY_PART slices), but
    /// oxenstored sends a whole DIRECTORY over its unix socket whatever its size (8,200 bytes for 200 names of 40
    /// characters in the Xen lab). Its largest real directory is <c>/local/domain</c>: at most 32,752 domain ids
    /// (DOMID_FIRST_RESERVED, 0x7FF0) of at most 5 digits and a nul, 196,512 bytes. 256 KiB holds that with room and
    /// still bounds what a broken or hostile daemon makes a client allocate. A reply over it fails its own request
    /// (E2BIG) and is skipped; the connection stays.
    /// </summary>
    internal const int ReplyPayloadBound = 256 * 1024;

    private readonly XenstoreClientOptions _options;
    private readonly Func<Transport>? _reconnect;

    private readonly object _sendLock = new();

    /// <summary>The requests in flight on the current connection (a new table per connection: closing one fails its requests).</summary>
    private RequestTable<XsRequest> _table;
    private readonly Dictionary<string, XenstoreWatch> _watches = new(StringComparer.Ordinal);
    private readonly ManualResetEventSlim _disposedEvent = new(false);
    private readonly Thread _reader;
    private readonly string _endpoint;
    private Transport? _transport;
    private TaskCompletionSource _connected = NewConnectedSignal(completed: true);
    private long _nextWatchToken;
    private int _reconnectCount;
    private int _disposed;
    private readonly long _spinTicks;

    /// <summary>
    /// True on a xenbus device (<c>/dev/xen/xenbus</c>), whose kernel driver (Linux drivers/xen/xenbus/
    /// xenbus_dev_frontend.c) differs from a socket in two ways the client must follow:
    /// it takes one whole message per write(2) into a buffer of XENSTORE_PAYLOAD_MAX bytes that includes the 16-byte
    /// header (so a payload may have 4,080 bytes, not 4,096: a longer write fails with EINVAL), and it queues the
    /// request for its xenbus thread with the payload still in that buffer, not copied (xenbus_dev_request_and_reply
    /// points the request's kvec at it). The next write overwrites the buffer, so a request still waiting for room on
    /// the 1 KiB ring goes out with the next message's payload: wrong paths, ENOENT and EINVAL for requests that were
    /// right. Only the reply proves that the daemon read the whole request, so on xenbus the client keeps one request
    /// on the wire and writes the next when a reply comes (libxenstore never has more than one in flight either).
    /// </summary>
    private readonly bool _xenbus;

    /// <summary>The largest request payload this transport carries: 4,096 on a socket, 4,080 on xenbus.</summary>
    private readonly int _payloadMax;

    /// <summary>xenbus only: requests registered but not yet written, waiting for the reply to the one on the wire (under the send lock).</summary>
    private readonly Queue<XsRequest> _xenbusWaiting = new();

    /// <summary>xenbus only: a request was written and its reply has not come yet (under the send lock).</summary>
    private bool _xenbusOnWire;

    private XenstoreClient(Transport transport, XenstoreClientOptions options, Func<Transport>? reconnect, bool xenbus = false)
    {
        _xenbus = xenbus;
        _payloadMax = xenbus ? XenstoreLimits.DevicePayloadMax : XenstoreLimits.PayloadMax;
        _transport = transport;
        _table = NewRequestTable();
        _options = options;
        _reconnect = reconnect;
        _endpoint = transport.Description;
        _spinTicks = (long)(options.SpinDuration.TotalSeconds * System.Diagnostics.Stopwatch.Frequency);
        _reader = new Thread(ReaderLoop) { IsBackground = true, Name = "xenstore-client-reader" };
        _reader.Start();
    }

    /// <summary>Where the client is connected: a socket path, a device path or <c>in-process:domN</c>.</summary>
    public string Endpoint => _endpoint;

    /// <summary>False while a dropped connection is being re-established, and after disposal.</summary>
    public bool IsConnected => Volatile.Read(ref _transport) is not null;

    /// <summary>How many times the connection was re-established after a drop.</summary>
    public int ReconnectCount => Volatile.Read(ref _reconnectCount);

    private bool IsDisposed => Volatile.Read(ref _disposed) != 0;

    /// <summary>
    /// Connects as libxenstore does: the socket named by <see cref="XenstoreClientOptions.SocketPath"/>, else
    /// <c>XENSTORED_PATH</c>, else <c>/var/run/xenstored/socket</c>; the xenbus device when so configured or when
    /// there is no socket but the device exists.
    /// </summary>
    /// <exception cref="DeviceException">ConnectionError when there is no xenstore to connect to.</exception>
    public static ValueTask<XenstoreClient> ConnectAsync(XenstoreClientOptions? options = null, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        options ??= new XenstoreClientOptions();
        if (options.DevicePath is { } device)
        {
            return ValueTask.FromResult(OpenDevice(device, options));
        }

        string? socketPath = options.SocketPath ?? Environment.GetEnvironmentVariable(XenstoreClientOptions.SocketPathVariable);
        if (string.IsNullOrEmpty(socketPath))
        {
            socketPath = XenstoreClientOptions.DefaultSocketPath;
            if (!File.Exists(socketPath) && File.Exists(XenstoreClientOptions.DefaultDevicePath))
            {
                return ValueTask.FromResult(OpenDevice(XenstoreClientOptions.DefaultDevicePath, options));
            }
        }

        SocketTransport transport = XenstoreConnector.Connect(socketPath);
        string path = socketPath;
        return ValueTask.FromResult(new XenstoreClient(transport, options,
            options.Reconnect ? () => XenstoreConnector.Connect(path) : null));
    }

    /// <summary>Connects to the xenstored (or <see cref="XenstoreServer"/>) unix socket at <paramref name="socketPath"/>.</summary>
    /// <exception cref="DeviceException">ConnectionError when nothing listens there.</exception>
    public static ValueTask<XenstoreClient> ConnectAsync(string socketPath, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(socketPath);
        return ConnectAsync(new XenstoreClientOptions { SocketPath = socketPath }, cancellationToken);
    }

    /// <summary>Opens a Xen guest's xenbus device (<c>/dev/xen/xenbus</c>): the guest's own xenstore connection.</summary>
    /// <exception cref="DeviceException">ConnectionError when the device cannot be opened.</exception>
    public static XenstoreClient OpenDevice(string devicePath = XenstoreClientOptions.DefaultDevicePath, XenstoreClientOptions? options = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(devicePath);
        return new XenstoreClient(XenstoreConnector.Open(devicePath), options ?? new XenstoreClientOptions(), reconnect: null, xenbus: true);
    }

    /// <summary>Connects to an embedded server in this process, speaking for <paramref name="domainId"/>.</summary>
    /// <param name="server">The server.</param>
    /// <param name="domainId">0 for a privileged client; another id to act as that domain (its permissions,
    /// quotas and relative paths).</param>
    /// <param name="options">Client options; reconnection does not apply.</param>
    public static XenstoreClient ConnectInProcess(XenstoreServer server, int domainId = 0, XenstoreClientOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(server);
        Socket socket = server.ConnectInProcess(domainId);
        return new XenstoreClient(new SocketTransport(socket, "in-process:dom" + domainId.ToString(CultureInfo.InvariantCulture)),
            options ?? new XenstoreClientOptions(), reconnect: null);
    }

    /// <summary>
    /// Speaks xenstore over an already open descriptor with the device code path (read/write calls); with
    /// <paramref name="xenbus"/>, under the xenbus device's rules (one request on the wire, 4,080-byte payloads).
    /// </summary>
    internal static XenstoreClient FromDescriptor(SafeFileDescriptor descriptor, string description, XenstoreClientOptions? options = null, bool xenbus = false) =>
        new(new DescriptorTransport(descriptor, description), options ?? new XenstoreClientOptions(), reconnect: null, xenbus);

    /// <summary>Speaks xenstore over <paramref name="transport"/> (a Xen ring's, the loopback hypervisor's domains), which the client owns from now on.</summary>
    internal static XenstoreClient OverTransport(Transport transport, XenstoreClientOptions? options = null) =>
        new(transport, options ?? new XenstoreClientOptions(), reconnect: null);

    private static TaskCompletionSource NewConnectedSignal(bool completed)
    {
        var signal = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        if (completed)
        {
            signal.SetResult();
        }

        return signal;
    }

    /// <summary>Closes the connection: waiting requests fail, watches end.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        _disposedEvent.Set();
        Transport? transport;
        lock (_sendLock)
        {
            transport = _transport;
            _transport = null;
            _connected.TrySetException(new ObjectDisposedException(nameof(XenstoreClient)));
        }

        transport?.Dispose();
        Volatile.Read(ref _table).Close(new DeviceDisconnectedException(XenstoreException.XenstoreDeviceName, $"the connection to {_endpoint} is closed"));
        CompleteWatches();
        if (Thread.CurrentThread != _reader)
        {
            _reader.Join(TimeSpan.FromSeconds(2));
        }
    }

    /// <summary>Closes the connection: waiting requests fail, watches end.</summary>
    public ValueTask DisposeAsync()
    {
        Dispose();
        return ValueTask.CompletedTask;
    }
}
