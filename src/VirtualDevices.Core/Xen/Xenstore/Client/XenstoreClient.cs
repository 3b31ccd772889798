using System.Buffers.Binary;
using System.Globalization;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using System.Text;
using VirtualDevices.IO;
using VirtualDevices.Interop;
using VirtualDevices.Xen.Xenstore.Protocol;
using VirtualDevices.Xen.Xenstore.Server;

namespace VirtualDevices.Xen.Xenstore.Client;

/// <summary>
/// A xenstore client over xenstored's unix socket, a Xen guest's xenbus device or an in-process link to
/// <see cref="XenstoreServer"/>. Requests are multiplexed on one connection by request id: any number may be in
/// flight from any thread, and a reader thread completes each by its id. Watches deliver their events as async
/// streams and survive reconnections. Limits are checked before sending, so an oversized request fails with a typed
/// error instead of getting the connection dropped.
/// </summary>
/// <example>
/// <code>
/// await using var xs = await XenstoreClient.ConnectAsync();
/// await xs.WriteAsync("/local/domain/0/name", "Domain-0");
/// string name = await xs.ReadStringAsync("/local/domain/0/name");
/// await xs.RunInTransactionAsync(async (tx, ct) => await tx.WriteAsync("a", "1", ct));
/// </code>
/// </example>
public sealed class XenstoreClient : IXenstoreStore, IAsyncDisposable, IDisposable
{
    private const int MaxMessageSize = XenstoreLimits.HeaderSize + XenstoreLimits.PayloadMax;
    private const int MaxDirectoryRestarts = 16;

    private readonly XenstoreClientOptions _options;
    private readonly Func<Transport>? _reconnect;
    private const int SlotCount = 256;
    private const uint SlotMask = SlotCount - 1;

    private readonly object _sendLock = new();

    /// <summary>Requests in flight by <c>id % SlotCount</c>; ids are chosen so that no two share a slot. Read by the
    /// reader without a lock; an entry is removed only by whoever moved its request's state out of waiting.</summary>
    private readonly PendingRequest?[] _slots = new PendingRequest?[SlotCount];

    /// <summary>Requests in flight beyond what the slots hold (under its own lock).</summary>
    private readonly Dictionary<uint, PendingRequest> _overflow = [];
    private int _overflowCount;
    private readonly Dictionary<string, XenstoreWatch> _watches = new(StringComparer.Ordinal);
    private readonly ManualResetEventSlim _disposedEvent = new(false);
    private readonly Thread _reader;
    private readonly string _endpoint;
    private Transport? _transport;
    private TaskCompletionSource _connected = NewConnectedSignal(completed: true);
    private uint _nextRequestId;
    private long _nextWatchToken;
    private int _reconnectCount;
    private int _disposed;
    private int _inFlight;
    private readonly long _spinTicks;

    private XenstoreClient(Transport transport, XenstoreClientOptions options, Func<Transport>? reconnect)
    {
        _transport = transport;
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

    // ---------------------------------------------------------------- connecting

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
        return new XenstoreClient(XenstoreConnector.Open(devicePath), options ?? new XenstoreClientOptions(), reconnect: null);
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

    /// <summary>Speaks xenstore over an already open descriptor with the device code path (read/write calls).</summary>
    internal static XenstoreClient FromDescriptor(SafeFileDescriptor descriptor, string description, XenstoreClientOptions? options = null) =>
        new(new DescriptorTransport(descriptor, description), options ?? new XenstoreClientOptions(), reconnect: null);

    private static TaskCompletionSource NewConnectedSignal(bool completed)
    {
        var signal = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        if (completed)
        {
            signal.SetResult();
        }

        return signal;
    }

    // ---------------------------------------------------------------- node operations

    /// <inheritdoc/>
    public ValueTask<byte[]> ReadAsync(string path, CancellationToken cancellationToken = default) => ReadCoreAsync(0, path, cancellationToken);

    /// <inheritdoc/>
    public ValueTask<byte[]?> TryReadAsync(string path, CancellationToken cancellationToken = default) => TryReadCoreAsync(0, path, cancellationToken);

    /// <inheritdoc/>
    public ValueTask<string> ReadStringAsync(string path, CancellationToken cancellationToken = default) => ReadStringCoreAsync(0, path, cancellationToken);

    /// <inheritdoc/>
    public ValueTask<string?> TryReadStringAsync(string path, CancellationToken cancellationToken = default) => TryReadStringCoreAsync(0, path, cancellationToken);

    /// <inheritdoc/>
    public ValueTask WriteAsync(string path, ReadOnlyMemory<byte> value, CancellationToken cancellationToken = default) =>
        WriteCoreAsync(0, path, value.Span, cancellationToken);

    /// <inheritdoc/>
    public ValueTask WriteAsync(string path, string value, CancellationToken cancellationToken = default) =>
        WriteCoreAsync(0, path, value, cancellationToken);

    /// <inheritdoc/>
    public ValueTask MakeDirectoryAsync(string path, CancellationToken cancellationToken = default) =>
        PathCommandAsync(0, XenstoreMessageType.MakeDirectory, path, cancellationToken);

    /// <inheritdoc/>
    public ValueTask RemoveAsync(string path, CancellationToken cancellationToken = default) =>
        PathCommandAsync(0, XenstoreMessageType.Remove, path, cancellationToken);

    /// <inheritdoc/>
    public ValueTask<IReadOnlyList<string>> ListAsync(string path, CancellationToken cancellationToken = default) => ListCoreAsync(0, path, cancellationToken);

    /// <inheritdoc/>
    public ValueTask<bool> ExistsAsync(string path, CancellationToken cancellationToken = default) => ExistsCoreAsync(0, path, cancellationToken);

    /// <inheritdoc/>
    public ValueTask<XenstorePermissions> GetPermissionsAsync(string path, CancellationToken cancellationToken = default) =>
        GetPermissionsCoreAsync(0, path, cancellationToken);

    /// <inheritdoc/>
    public ValueTask SetPermissionsAsync(string path, XenstorePermissions permissions, CancellationToken cancellationToken = default) =>
        SetPermissionsCoreAsync(0, path, permissions, cancellationToken);

    internal ValueTask<byte[]> ReadCoreAsync(uint transaction, string path, CancellationToken cancellationToken) =>
        RequestAsync(Build(XenstoreMessageType.Read, transaction, path), path, static p => p.ToArray(), missingIsDefault: false, cancellationToken);

    internal ValueTask<byte[]?> TryReadCoreAsync(uint transaction, string path, CancellationToken cancellationToken) =>
        RequestAsync<byte[]?>(Build(XenstoreMessageType.Read, transaction, path), path, static p => p.ToArray(), missingIsDefault: true, cancellationToken);

    internal ValueTask<string> ReadStringCoreAsync(uint transaction, string path, CancellationToken cancellationToken) =>
        RequestAsync(Build(XenstoreMessageType.Read, transaction, path), path, static p => Encoding.UTF8.GetString(p), missingIsDefault: false, cancellationToken);

    internal ValueTask<string?> TryReadStringCoreAsync(uint transaction, string path, CancellationToken cancellationToken) =>
        RequestAsync<string?>(Build(XenstoreMessageType.Read, transaction, path), path, static p => Encoding.UTF8.GetString(p), missingIsDefault: true, cancellationToken);

    internal ValueTask WriteCoreAsync(uint transaction, string path, ReadOnlySpan<byte> value, CancellationToken cancellationToken) =>
        CommandAsync(Build(XenstoreMessageType.Write, transaction, path, value), path, cancellationToken);

    internal ValueTask WriteCoreAsync(uint transaction, string path, string value, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(value);
        int byteCount = Encoding.UTF8.GetByteCount(value);
        if (byteCount > XenstoreLimits.PayloadMax)
        {
            throw TooBig(XenstoreMessageType.Write, path, byteCount);
        }

        Span<byte> bytes = stackalloc byte[byteCount];
        Encoding.UTF8.GetBytes(value, bytes);
        return WriteCoreAsync(transaction, path, bytes, cancellationToken);
    }

    internal ValueTask PathCommandAsync(uint transaction, XenstoreMessageType type, string path, CancellationToken cancellationToken) =>
        CommandAsync(Build(type, transaction, path), path, cancellationToken);

    internal ValueTask<bool> ExistsCoreAsync(uint transaction, string path, CancellationToken cancellationToken) =>
        RequestAsync(Build(XenstoreMessageType.GetPermissions, transaction, path), path, static _ => true, missingIsDefault: true, cancellationToken);

    internal ValueTask<XenstorePermissions> GetPermissionsCoreAsync(uint transaction, string path, CancellationToken cancellationToken) =>
        RequestAsync(Build(XenstoreMessageType.GetPermissions, transaction, path), path, ParsePermissions, missingIsDefault: false, cancellationToken);

    internal ValueTask SetPermissionsCoreAsync(uint transaction, string path, XenstorePermissions permissions, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(permissions);
        Span<byte> wire = stackalloc byte[permissions.WireLength];
        permissions.WriteWire(wire);
        return CommandAsync(Build(XenstoreMessageType.SetPermissions, transaction, path, wire), path, cancellationToken);
    }

    /// <summary>DIRECTORY, and when the list is too long for one reply (E2BIG), DIRECTORY_PART slices, restarted
    /// if the directory changes in between (libxenstore's algorithm; the OCaml client cannot list such directories).</summary>
    internal ValueTask<IReadOnlyList<string>> ListCoreAsync(uint transaction, string path, CancellationToken cancellationToken)
    {
        // E2BIG comes back as null rather than as an exception: the common small directory takes the pooled,
        // allocation-light path, and only a large one pays for the slower listing in parts.
        ValueTask<IReadOnlyList<string>?> whole = RequestAsync<IReadOnlyList<string>?>(Build(XenstoreMessageType.Directory, transaction, path), path, ParseNames, "E2BIG", cancellationToken);
        if (!whole.IsCompletedSuccessfully)
        {
            return ListSlowAsync(whole, transaction, path, cancellationToken);
        }

        // A value task backed by a pooled request may be consumed once only.
        return whole.Result is { } names
            ? new ValueTask<IReadOnlyList<string>>(names)
            : ListInPartsAsync(transaction, path, new XenstoreException("E2BIG", $"xenstore Directory '{path}' is too large for one reply.", path), cancellationToken);
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<IReadOnlyList<string>> ListSlowAsync(ValueTask<IReadOnlyList<string>?> whole, uint transaction, string path, CancellationToken cancellationToken)
    {
        IReadOnlyList<string>? names = await whole.ConfigureAwait(false);
        return names ?? await ListInPartsAsync(transaction, path, new XenstoreException("E2BIG",
            $"xenstore Directory '{path}' is too large for one reply.", path), cancellationToken).ConfigureAwait(false);
    }

    private async ValueTask<IReadOnlyList<string>> ListInPartsAsync(uint transaction, string path, XenstoreException tooBig, CancellationToken cancellationToken)
    {
        for (int attempt = 0; attempt < MaxDirectoryRestarts; attempt++)
        {
            var names = new List<string>();
            string? generation = null;
            long offset = 0;
            while (true)
            {
                DirectoryPart part;
                try
                {
                    part = await RequestAsync(BuildDirectoryPart(transaction, path, offset), path, ParseDirectoryPart, missingIsDefault: false, cancellationToken).ConfigureAwait(false);
                }
                catch (XenstoreException e) when (e.ErrorName is "ENOSYS" or "EINVAL" && offset == 0)
                {
                    // A daemon without DIRECTORY_PART: the original E2BIG is the truthful answer.
                    throw tooBig;
                }

                if (generation is null)
                {
                    generation = part.Generation;
                }
                else if (generation != part.Generation)
                {
                    break;
                }

                names.AddRange(part.Names);
                offset += part.ConsumedBytes;
                if (part.IsLast)
                {
                    return names;
                }

                if (part.ConsumedBytes == 0)
                {
                    throw new XenstoreException("EIO", $"xenstore DIRECTORY_PART '{path}' made no progress at offset {offset}.", path);
                }
            }
        }

        throw new XenstoreException("EAGAIN", $"Directory '{path}' kept changing while it was listed in parts.", path);
    }

    private readonly record struct DirectoryPart(string Generation, List<string> Names, long ConsumedBytes, bool IsLast);

    private static DirectoryPart ParseDirectoryPart(ReadOnlySpan<byte> payload)
    {
        int end = payload.IndexOf((byte)0);
        if (end < 0)
        {
            throw new XenstoreException("EIO", "Malformed DIRECTORY_PART reply: no generation.");
        }

        string generation = Encoding.ASCII.GetString(payload[..end]);
        ReadOnlySpan<byte> rest = payload[(end + 1)..];
        var names = new List<string>();
        long consumed = 0;
        bool last = false;
        while (!rest.IsEmpty)
        {
            int nul = rest.IndexOf((byte)0);
            if (nul == 0)
            {
                // An empty string: the end of the whole list.
                last = true;
                break;
            }

            ReadOnlySpan<byte> name = nul < 0 ? rest : rest[..nul];
            names.Add(Encoding.UTF8.GetString(name));
            consumed += name.Length + 1;
            rest = nul < 0 ? default : rest[(nul + 1)..];
        }

        return new DirectoryPart(generation, names, consumed, last);
    }

    /// <summary>The names of a DIRECTORY reply, in one exactly sized array (counted first, so nothing is regrown).</summary>
    private static IReadOnlyList<string> ParseNames(ReadOnlySpan<byte> payload)
    {
        int count = 0;
        for (ReadOnlySpan<byte> rest = payload; !rest.IsEmpty;)
        {
            int nul = rest.IndexOf((byte)0);
            if (nul != 0)
            {
                count++;
            }

            rest = nul < 0 ? default : rest[(nul + 1)..];
        }

        if (count == 0)
        {
            return [];
        }

        string[] names = new string[count];
        int next = 0;
        while (!payload.IsEmpty)
        {
            int nul = payload.IndexOf((byte)0);
            ReadOnlySpan<byte> name = nul < 0 ? payload : payload[..nul];
            if (!name.IsEmpty)
            {
                names[next++] = Encoding.UTF8.GetString(name);
            }

            payload = nul < 0 ? default : payload[(nul + 1)..];
        }

        return names;
    }

    private static XenstorePermissions ParsePermissions(ReadOnlySpan<byte> payload) =>
        XenstorePermissions.TryParseWire(payload, out XenstorePermissions? permissions)
            ? permissions!
            : throw new XenstoreException("EIO", "Malformed GET_PERMS reply.");

    // ---------------------------------------------------------------- transactions

    /// <summary>Starts a transaction; prefer <see cref="RunInTransactionAsync{T}"/>, which retries conflicts.</summary>
    public async ValueTask<XenstoreTransaction> BeginTransactionAsync(CancellationToken cancellationToken = default)
    {
        uint id = await RequestAsync(BuildStrings(XenstoreMessageType.TransactionStart, 0, ""), null, ParseTransactionId, missingIsDefault: false, cancellationToken).ConfigureAwait(false);
        return new XenstoreTransaction(this, id);
    }

    private static uint ParseTransactionId(ReadOnlySpan<byte> payload)
    {
        int nul = payload.IndexOf((byte)0);
        ReadOnlySpan<byte> digits = nul < 0 ? payload : payload[..nul];
        return uint.TryParse(digits, NumberStyles.None, CultureInfo.InvariantCulture, out uint id) && id != 0
            ? id
            : throw new XenstoreException("EIO", "Malformed TRANSACTION_START reply.");
    }

    internal ValueTask EndTransactionAsync(uint transaction, bool commit, CancellationToken cancellationToken) =>
        CommandAsync(BuildStrings(XenstoreMessageType.TransactionEnd, transaction, commit ? "T" : "F"), null, cancellationToken);

    /// <summary>
    /// Runs <paramref name="body"/> in a transaction and commits it; on a conflict (EAGAIN, from the commit or any
    /// request inside) the transaction is aborted and the body runs again in a new one, after a jittered
    /// exponential back-off, at most <see cref="XenstoreTransactionOptions.MaxAttempts"/> times. Any other failure
    /// aborts the transaction and propagates.
    /// </summary>
    /// <returns>What the body returned in the attempt that committed.</returns>
    /// <exception cref="XenstoreException">EAGAIN when every attempt conflicted.</exception>
    public async ValueTask<T> RunInTransactionAsync<T>(Func<XenstoreTransaction, CancellationToken, ValueTask<T>> body,
        XenstoreTransactionOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(body);
        options ??= XenstoreTransactionOptions.Default;
        TimeSpan backoff = options.InitialBackoff;
        for (int attempt = 1; ; attempt++)
        {
            XenstoreTransaction transaction = await BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
            try
            {
                T result = await body(transaction, cancellationToken).ConfigureAwait(false);
                await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
                return result;
            }
            catch (XenstoreException e) when (e.IsTransactionConflict && attempt < options.MaxAttempts)
            {
            }
            finally
            {
                await transaction.DisposeAsync().ConfigureAwait(false);
            }

            // Jitter keeps two conflicting writers from retrying in lockstep.
            double jittered = backoff.TotalMilliseconds * (0.5 + Random.Shared.NextDouble());
            await Task.Delay(TimeSpan.FromMilliseconds(jittered), cancellationToken).ConfigureAwait(false);
            backoff = TimeSpan.FromTicks(Math.Min(backoff.Ticks * 2, options.MaxBackoff.Ticks));
        }
    }

    /// <summary>Runs <paramref name="body"/> in a transaction, retried on conflicts; see <see cref="RunInTransactionAsync{T}"/>.</summary>
    public async ValueTask RunInTransactionAsync(Func<XenstoreTransaction, CancellationToken, ValueTask> body,
        XenstoreTransactionOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(body);
        await RunInTransactionAsync<bool>(async (transaction, token) =>
        {
            await body(transaction, token).ConfigureAwait(false);
            return true;
        }, options, cancellationToken).ConfigureAwait(false);
    }

    // ---------------------------------------------------------------- watches

    /// <summary>
    /// Registers a watch on <paramref name="path"/> (its whole subtree; or a special path such as
    /// <see cref="XenstorePath.ReleaseDomain"/>). The first event arrives straight away.
    /// </summary>
    /// <exception cref="XenstoreException">E2BIG when the watch quota is exhausted, EINVAL for a bad path.</exception>
    public async ValueTask<XenstoreWatch> WatchAsync(string path, CancellationToken cancellationToken = default)
    {
        XenstorePath.Validate(path, allowSpecial: true);
        string token = "vdw" + Interlocked.Increment(ref _nextWatchToken).ToString(CultureInfo.InvariantCulture);
        var watch = new XenstoreWatch(this, path, token, _options.WatchEventCapacity);
        lock (_watches)
        {
            _watches[token] = watch;
        }

        try
        {
            await CommandAsync(BuildWatch(XenstoreMessageType.Watch, watch), path, cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            lock (_watches)
            {
                _watches.Remove(token);
            }

            watch.Complete();
            throw;
        }

        return watch;
    }

    /// <summary>The events of a watch on <paramref name="path"/>, registered when enumeration starts and removed
    /// when it stops.</summary>
    public async IAsyncEnumerable<XenstoreWatchEvent> WatchEventsAsync(string path, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        XenstoreWatch watch = await WatchAsync(path, cancellationToken).ConfigureAwait(false);
        await using (((IAsyncDisposable)watch).ConfigureAwait(false))
        {
            await foreach (XenstoreWatchEvent e in watch.ReadAllAsync(cancellationToken).ConfigureAwait(false))
            {
                yield return e;
            }
        }
    }

    internal async ValueTask UnwatchAsync(XenstoreWatch watch)
    {
        bool registered;
        lock (_watches)
        {
            registered = _watches.Remove(watch.Token);
        }

        watch.Complete();
        if (!registered || IsDisposed)
        {
            return;
        }

        try
        {
            await CommandAsync(BuildWatch(XenstoreMessageType.Unwatch, watch), watch.Path, CancellationToken.None).ConfigureAwait(false);
        }
        catch (DeviceException)
        {
            // Gone already (connection lost, server restarted): nothing left to unregister.
        }
    }

    /// <summary>
    /// Waits until <paramref name="condition"/> holds for the value of <paramref name="path"/> (null while the node
    /// does not exist), evaluating it now and after each watch event on the path.
    /// </summary>
    /// <returns>The value that satisfied the condition.</returns>
    /// <exception cref="XenstoreException">ETIMEDOUT when <paramref name="timeout"/> passes first.</exception>
    public async ValueTask<byte[]?> WaitForAsync(string path, Func<byte[]?, bool> condition, TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(condition);
        byte[]? satisfied = null;
        await WaitForAsync(path, async token =>
        {
            byte[]? value = await TryReadAsync(path, token).ConfigureAwait(false);
            if (condition(value))
            {
                satisfied = value;
                return true;
            }

            return false;
        }, timeout, cancellationToken).ConfigureAwait(false);
        return satisfied;
    }

    /// <summary>
    /// Waits until <paramref name="condition"/> returns true, evaluating it once the watch on
    /// <paramref name="watchPath"/> is registered and after each of its events.
    /// </summary>
    /// <exception cref="XenstoreException">ETIMEDOUT when <paramref name="timeout"/> passes first.</exception>
    public async ValueTask WaitForAsync(string watchPath, Func<CancellationToken, ValueTask<bool>> condition, TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(condition);
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        limit.CancelAfter(timeout);
        try
        {
            XenstoreWatch watch = await WatchAsync(watchPath, limit.Token).ConfigureAwait(false);
            await using (((IAsyncDisposable)watch).ConfigureAwait(false))
            {
                // The registration event comes first, so the condition is checked once after the watch is in place
                // and nothing that happens later can be missed.
                await foreach (XenstoreWatchEvent _ in watch.ReadAllAsync(limit.Token).ConfigureAwait(false))
                {
                    if (await condition(limit.Token).ConfigureAwait(false))
                    {
                        return;
                    }
                }
            }

            throw new DeviceDisconnectedException(XenstoreException.XenstoreDeviceName, "the watch ended before the condition held");
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new XenstoreException("ETIMEDOUT", $"The condition on '{watchPath}' did not hold within {timeout}.", watchPath);
        }
    }

    // ---------------------------------------------------------------- domains and control

    /// <summary>The home path of a domain, <c>/local/domain/&lt;id&gt;</c>, as the daemon reports it.</summary>
    public ValueTask<string> GetDomainPathAsync(int domainId, CancellationToken cancellationToken = default) =>
        RequestAsync(BuildStrings(XenstoreMessageType.GetDomainPath, 0, Number(domainId)), null, ParseText, missingIsDefault: false, cancellationToken);

    /// <summary>True if the daemon talks to the domain (dom0 always).</summary>
    public ValueTask<bool> IsDomainIntroducedAsync(int domainId, CancellationToken cancellationToken = default) =>
        RequestAsync(BuildStrings(XenstoreMessageType.IsDomainIntroduced, 0, Number(domainId)), null, static p => p.Length > 0 && p[0] == (byte)'T', missingIsDefault: false, cancellationToken);

    /// <summary>INTRODUCE (dom0 only): tells the daemon about a new domain's ring page and event channel.</summary>
    public ValueTask IntroduceDomainAsync(int domainId, ulong ringFrame, uint eventChannel, CancellationToken cancellationToken = default) =>
        CommandAsync(BuildStrings(XenstoreMessageType.Introduce, 0, Number(domainId), ringFrame.ToString(CultureInfo.InvariantCulture),
            eventChannel.ToString(CultureInfo.InvariantCulture)), null, cancellationToken);

    /// <summary>RELEASE (dom0 only): tells the daemon to stop talking to a domain; fires <c>@releaseDomain</c>.</summary>
    public ValueTask ReleaseDomainAsync(int domainId, CancellationToken cancellationToken = default) =>
        CommandAsync(BuildStrings(XenstoreMessageType.Release, 0, Number(domainId)), null, cancellationToken);

    /// <summary>RESUME (dom0 only): re-arms <c>@releaseDomain</c> for a domain.</summary>
    public ValueTask ResumeDomainAsync(int domainId, CancellationToken cancellationToken = default) =>
        CommandAsync(BuildStrings(XenstoreMessageType.Resume, 0, Number(domainId)), null, cancellationToken);

    /// <summary>SET_TARGET (dom0 only): lets <paramref name="domainId"/> act with <paramref name="targetDomainId"/>'s rights.</summary>
    public ValueTask SetTargetAsync(int domainId, int targetDomainId, CancellationToken cancellationToken = default) =>
        CommandAsync(BuildStrings(XenstoreMessageType.SetTarget, 0, Number(domainId), Number(targetDomainId)), null, cancellationToken);

    /// <summary>RESET_WATCHES: drops every watch and transaction of this connection; local watches end.</summary>
    public async ValueTask ResetWatchesAsync(CancellationToken cancellationToken = default)
    {
        await CommandAsync(BuildStrings(XenstoreMessageType.ResetWatches, 0, ""), null, cancellationToken).ConfigureAwait(false);
        XenstoreWatch[] watches;
        lock (_watches)
        {
            watches = [.. _watches.Values];
            _watches.Clear();
        }

        foreach (XenstoreWatch watch in watches)
        {
            watch.Complete();
        }
    }

    /// <summary>CONTROL (formerly DEBUG; dom0 only): a daemon-specific command such as <c>help</c> or <c>check</c>.</summary>
    /// <returns>The daemon's answer as text.</returns>
    public ValueTask<string> ControlAsync(string command, params string[] arguments)
    {
        ArgumentException.ThrowIfNullOrEmpty(command);
        ArgumentNullException.ThrowIfNull(arguments);
        return RequestAsync(BuildStrings(XenstoreMessageType.Control, 0, [command, .. arguments]), null, ParseText, missingIsDefault: false, CancellationToken.None);
    }

    private static string ParseText(ReadOnlySpan<byte> payload)
    {
        int nul = payload.IndexOf((byte)0);
        return Encoding.UTF8.GetString(nul < 0 ? payload : payload[..nul]);
    }

    private static string Number(int value)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(value);
        return value.ToString(CultureInfo.InvariantCulture);
    }

    // ---------------------------------------------------------------- message building

    /// <summary>
    /// What to send, checked but not yet written: <c>path|tail</c> (tail a value, permissions, or nothing), or a list of
    /// nul-terminated strings. The request engine writes it straight into the buffer of the request that carries it.
    /// </summary>
    private readonly ref struct OutgoingMessage
    {
        internal OutgoingMessage(XenstoreMessageType type, uint transaction, string? path, ReadOnlySpan<byte> tail, string[]? strings, int payloadLength)
        {
            Type = type;
            Transaction = transaction;
            Path = path;
            Tail = tail;
            Strings = strings;
            PayloadLength = payloadLength;
        }

        internal XenstoreMessageType Type { get; }

        internal uint Transaction { get; }

        internal string? Path { get; }

        internal ReadOnlySpan<byte> Tail { get; }

        internal string[]? Strings { get; }

        internal int PayloadLength { get; }

        /// <summary>Writes the header (request id 0 until sent) and payload; returns the message length.</summary>
        internal int WriteTo(Span<byte> destination)
        {
            new XenstoreMessageHeader(Type, 0, Transaction, (uint)PayloadLength).Write(destination);
            int position = XenstoreLimits.HeaderSize;
            if (Strings is null)
            {
                // A validated path is ASCII.
                position += Encoding.ASCII.GetBytes(Path!, destination[position..]);
                destination[position++] = 0;
                Tail.CopyTo(destination[position..]);
                return position + Tail.Length;
            }

            foreach (string s in Strings)
            {
                position += Encoding.UTF8.GetBytes(s, destination[position..]);
                destination[position++] = 0;
            }

            return position;
        }
    }

    /// <summary><c>path|</c> followed by <paramref name="tail"/> (a value, permissions, or nothing).</summary>
    private static OutgoingMessage Build(XenstoreMessageType type, uint transaction, string path, ReadOnlySpan<byte> tail = default)
    {
        XenstorePath.Validate(path);
        int payload = path.Length + 1 + tail.Length;
        if (payload > XenstoreLimits.PayloadMax)
        {
            throw TooBig(type, path, payload);
        }

        return new OutgoingMessage(type, transaction, path, tail, null, payload);
    }

    private static OutgoingMessage BuildDirectoryPart(uint transaction, string path, long offset)
    {
        XenstorePath.Validate(path);
        return BuildStrings(XenstoreMessageType.DirectoryPart, transaction, path, offset.ToString(CultureInfo.InvariantCulture));
    }

    private static OutgoingMessage BuildWatch(XenstoreMessageType type, XenstoreWatch watch)
    {
        XenstorePath.Validate(watch.Path, allowSpecial: true);
        return BuildStrings(type, 0, watch.Path, watch.Token);
    }

    /// <summary>Nul-terminated strings (the argument lists of the domain and control requests).</summary>
    private static OutgoingMessage BuildStrings(XenstoreMessageType type, uint transaction, params string[] strings)
    {
        int payload = 0;
        foreach (string s in strings)
        {
            payload += Encoding.UTF8.GetByteCount(s) + 1;
        }

        if (payload > XenstoreLimits.PayloadMax)
        {
            throw TooBig(type, null, payload);
        }

        return new OutgoingMessage(type, transaction, null, default, strings, payload);
    }

    private static XenstoreException TooBig(XenstoreMessageType type, string? path, int payload) =>
        new("E2BIG", $"xenstore {type} request of {payload} bytes exceeds the {XenstoreLimits.PayloadMax}-byte payload limit; " +
            "xenstored would drop the connection, so it was not sent.", path);

    // ---------------------------------------------------------------- request engine

    private static readonly ReplyParser<bool> Acknowledged = static _ => true;

    private ValueTask CommandAsync(scoped OutgoingMessage message, string? path, CancellationToken cancellationToken)
    {
        PendingRequest<bool> pending = Prepare(message, path, Acknowledged, null);
        try
        {
            if (TrySend(pending, cancellationToken))
            {
                return pending.AsVoidValueTask();
            }
        }
        catch (Exception e)
        {
            pending.Recycle();
            return ValueTask.FromException(e);
        }

        return new ValueTask(SendAfterReconnectAsync(pending, cancellationToken).AsTask());
    }

    /// <summary>
    /// Sends a request and returns its reply parsed by <paramref name="parser"/> (an error reply named ENOENT yields the
    /// default value when <paramref name="missingIsDefault"/>). The value task is backed by the pooled request itself,
    /// so a round trip allocates nothing apart from what the parser returns.
    /// </summary>
    private ValueTask<T> RequestAsync<T>(scoped OutgoingMessage message, string? path, ReplyParser<T> parser, bool missingIsDefault, CancellationToken cancellationToken) =>
        RequestAsync(message, path, parser, missingIsDefault ? "ENOENT" : null, cancellationToken);

    /// <summary>As above; an error reply named <paramref name="defaultOnError"/> yields the default value instead of an exception.</summary>
    private ValueTask<T> RequestAsync<T>(scoped OutgoingMessage message, string? path, ReplyParser<T> parser, string? defaultOnError, CancellationToken cancellationToken)
    {
        PendingRequest<T> pending = Prepare(message, path, parser, defaultOnError);
        try
        {
            if (TrySend(pending, cancellationToken))
            {
                return pending.AsValueTask();
            }
        }
        catch (Exception e)
        {
            pending.Recycle();
            return ValueTask.FromException<T>(e);
        }

        return SendAfterReconnectAsync(pending, cancellationToken);
    }

    private PendingRequest<T> Prepare<T>(scoped OutgoingMessage message, string? path, ReplyParser<T> parser, string? defaultOnError)
    {
        PendingRequest<T> pending = PendingRequest<T>.Rent(this, _options.RunContinuationsAsynchronously, message.Type, path, parser, defaultOnError);
        pending.MessageLength = message.WriteTo(pending.Message);
        return pending;
    }

    /// <summary>
    /// Registers and sends the request on the current connection; false while disconnected (nothing registered).
    /// When it throws, the request is neither registered nor completed, so the caller may recycle it.
    /// </summary>
    private bool TrySend(PendingRequest pending, CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(IsDisposed, this);
        cancellationToken.ThrowIfCancellationRequested();
        lock (_sendLock)
        {
            Transport? transport = _transport;
            if (transport is null)
            {
                if (_reconnect is null || IsDisposed)
                {
                    throw new DeviceDisconnectedException(XenstoreException.XenstoreDeviceName, $"the connection to {_endpoint} is closed");
                }

                return false;
            }

            uint id = Register(pending);
            BinaryPrimitives.WriteUInt32LittleEndian(pending.Message.AsSpan(4), id);
            try
            {
                transport.Send(pending.Message.AsSpan(0, pending.MessageLength));
            }
            catch (Exception e) when (e is SocketException or IOException or ObjectDisposedException)
            {
                if (!Unregister(pending, id))
                {
                    // A disconnect already failed it: its caller gets that failure.
                    return true;
                }

                if (_reconnect is not null && !IsDisposed)
                {
                    // The peer went away before the reader noticed: drop the connection now (waking the reader, which
                    // reconnects) and let the request wait for the new one, as a request sent a moment later would.
                    _transport = null;
                    if (_connected.Task.IsCompleted)
                    {
                        _connected = NewConnectedSignal(completed: false);
                    }

                    transport.Dispose();
                    return false;
                }

                throw new DeviceDisconnectedException(XenstoreException.XenstoreDeviceName, $"sending to {_endpoint} failed", e);
            }
        }

        if (cancellationToken.CanBeCanceled)
        {
            pending.Registration = cancellationToken.UnsafeRegister(static (state, token) => ((PendingRequest)state!).Cancel(token), pending);
        }

        return true;
    }

    /// <summary>Gives the request an id whose slot is free (under the send lock) and publishes it.</summary>
    private uint Register(PendingRequest pending)
    {
        Interlocked.Increment(ref _inFlight);
        for (int attempt = 0; attempt < SlotCount; attempt++)
        {
            uint id = NextRequestId();
            ref PendingRequest? slot = ref _slots[id & SlotMask];
            if (slot is null)
            {
                pending.Arm(id);
                Volatile.Write(ref slot, pending);
                return id;
            }
        }

        // Every slot is taken: that many requests are in flight.
        uint overflowId = NextRequestId();
        pending.Arm(overflowId);
        lock (_overflow)
        {
            _overflow[overflowId] = pending;
            _overflowCount = _overflow.Count;
        }

        return overflowId;
    }

    private uint NextRequestId()
    {
        uint id = ++_nextRequestId;
        return id != 0 ? id : ++_nextRequestId;
    }

    /// <summary>Takes back a request whose send failed; false if a disconnect claimed it first.</summary>
    private bool Unregister(PendingRequest pending, uint id)
    {
        if (!pending.TryClaim(id))
        {
            return false;
        }

        Remove(pending, id);
        return true;
    }

    /// <summary>Removes a request from the table; called by whoever moved its state out of waiting or cancelled.</summary>
    private void Remove(PendingRequest pending, uint id)
    {
        Interlocked.Decrement(ref _inFlight);
        ref PendingRequest? slot = ref _slots[id & SlotMask];
        if (ReferenceEquals(Volatile.Read(ref slot), pending))
        {
            Volatile.Write(ref slot, null);
            return;
        }

        lock (_overflow)
        {
            _overflow.Remove(id);
            _overflowCount = _overflow.Count;
        }
    }

    /// <summary>
    /// Called when a cancelled request's result is taken: true if it could be retired (its late reply can no longer
    /// reach it, so it may be reused); false if the reader or a disconnect retired it (it is then left to the collector).
    /// </summary>
    internal bool TryRetire(PendingRequest pending)
    {
        uint id = pending.RequestId;
        if (!pending.TryBury(id))
        {
            return false;
        }

        Remove(pending, id);
        return true;
    }

    private async ValueTask<T> SendAfterReconnectAsync<T>(PendingRequest<T> pending, CancellationToken cancellationToken)
    {
        try
        {
            using var limit = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            limit.CancelAfter(_options.ReconnectTimeout);
            while (true)
            {
                Task connected;
                lock (_sendLock)
                {
                    connected = _connected.Task;
                }

                try
                {
                    await connected.WaitAsync(limit.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
                {
                    throw new DeviceDisconnectedException(XenstoreException.XenstoreDeviceName,
                        $"no connection to {_endpoint} within {_options.ReconnectTimeout}");
                }

                if (TrySend(pending, cancellationToken))
                {
                    break;
                }
            }
        }
        catch
        {
            // Never registered: nobody else holds it.
            pending.Recycle();
            throw;
        }

        return await pending.AsValueTask().ConfigureAwait(false);
    }

    // ---------------------------------------------------------------- reader thread

    private void ReaderLoop()
    {
        byte[] buffer = new byte[64 * 1024];
        while (true)
        {
            Transport? transport = Volatile.Read(ref _transport);
            Exception? failure = transport is null ? null : ReadUntilFailure(transport, buffer);
            if (IsDisposed)
            {
                break;
            }

            OnDisconnected(transport, failure);
            if (_reconnect is null)
            {
                break;
            }

            Transport? next = ReconnectUntilDisposed();
            if (next is null)
            {
                break;
            }

            Task watchesRegistered;
            lock (_sendLock)
            {
                _transport = next;
                // The watches go out first: requests waiting for the connection are sent after them, so a change
                // made once such a request completed cannot slip past a watch that is not registered yet.
                watchesRegistered = RegisterWatchesAgain();
                Interlocked.Increment(ref _reconnectCount);
                _connected.TrySetResult();
            }

            _ = watchesRegistered;
        }

        FailPending(new DeviceDisconnectedException(XenstoreException.XenstoreDeviceName, $"the connection to {_endpoint} is closed"));
        CompleteWatches();
    }

    /// <summary>Reads and dispatches messages until the connection fails; returns why.</summary>
    private Exception ReadUntilFailure(Transport transport, byte[] buffer)
    {
        int start = 0;
        int end = 0;
        try
        {
            while (true)
            {
                if (buffer.Length - end < MaxMessageSize)
                {
                    buffer.AsSpan(start, end - start).CopyTo(buffer);
                    end -= start;
                    start = 0;
                }

                SpinForReply(transport);
                int received = transport.Receive(buffer.AsSpan(end));
                if (received <= 0)
                {
                    return new EndOfStreamException($"{_endpoint} closed the connection");
                }

                end += received;
                while (end - start >= XenstoreLimits.HeaderSize)
                {
                    XenstoreMessageHeader header = XenstoreMessageHeader.Read(buffer.AsSpan(start));
                    if (header.Length > XenstoreLimits.PayloadMax)
                    {
                        return new InvalidDataException($"{_endpoint} sent a {header.Length}-byte payload, over the protocol limit");
                    }

                    int total = XenstoreLimits.HeaderSize + (int)header.Length;
                    if (end - start < total)
                    {
                        break;
                    }

                    Dispatch(header, buffer.AsSpan(start + XenstoreLimits.HeaderSize, (int)header.Length));
                    start += total;
                }

                if (start == end)
                {
                    start = end = 0;
                }
            }
        }
        catch (Exception e) when (e is SocketException or IOException or ObjectDisposedException)
        {
            return e;
        }
    }

    /// <summary>
    /// While a request waits, polls for its reply up to <see cref="XenstoreClientOptions.SpinDuration"/> before the
    /// blocking receive: a local daemon answers in microseconds, and a reply found by polling costs no wake-up.
    /// </summary>
    private void SpinForReply(Transport transport)
    {
        if (_spinTicks == 0 || Volatile.Read(ref _inFlight) == 0)
        {
            return;
        }

        long deadline = System.Diagnostics.Stopwatch.GetTimestamp() + _spinTicks;
        while (transport.Available == 0 && System.Diagnostics.Stopwatch.GetTimestamp() < deadline && Volatile.Read(ref _inFlight) > 0)
        {
            Thread.SpinWait(20);
        }
    }

    private void Dispatch(in XenstoreMessageHeader header, ReadOnlySpan<byte> payload)
    {
        if (header.Type == XenstoreMessageType.WatchEvent)
        {
            DeliverWatchEvent(payload);
            return;
        }

        uint id = header.RequestId;
        PendingRequest? pending = Volatile.Read(ref _slots[id & SlotMask]);
        if (pending is null || pending.RequestId != id)
        {
            pending = null;
            if (Volatile.Read(ref _overflowCount) > 0)
            {
                lock (_overflow)
                {
                    _overflow.TryGetValue(id, out pending);
                }
            }

            if (pending is null)
            {
                // A reply nobody waits for any more: its request was cancelled and retired.
                return;
            }
        }

        // The id is part of every state transition, so a stale read above cannot complete a reused request.
        if (pending.TryClaim(id))
        {
            Remove(pending, id);
            pending.Complete(header.Type, payload);
        }
        else if (pending.TryBury(id))
        {
            // Cancelled and still waiting for its result to be taken: the caller leaves it to the collector.
            Remove(pending, id);
        }
    }

    private void DeliverWatchEvent(ReadOnlySpan<byte> payload)
    {
        int nul = payload.IndexOf((byte)0);
        if (nul < 0)
        {
            return;
        }

        ReadOnlySpan<byte> tokenBytes = payload[(nul + 1)..];
        int tokenEnd = tokenBytes.IndexOf((byte)0);
        string token = Encoding.UTF8.GetString(tokenEnd < 0 ? tokenBytes : tokenBytes[..tokenEnd]);
        XenstoreWatch? watch;
        lock (_watches)
        {
            _watches.TryGetValue(token, out watch);
        }

        watch?.Post(new XenstoreWatchEvent(Encoding.UTF8.GetString(payload[..nul]), token));
    }

    private void OnDisconnected(Transport? transport, Exception? failure)
    {
        lock (_sendLock)
        {
            if (ReferenceEquals(_transport, transport))
            {
                _transport = null;
            }

            if (_connected.Task.IsCompleted)
            {
                _connected = NewConnectedSignal(completed: false);
            }
        }

        transport?.Dispose();
        FailPending(new DeviceDisconnectedException(XenstoreException.XenstoreDeviceName, $"the connection to {_endpoint} was lost", failure));
    }

    /// <summary>Tries to connect again, backing off from 20 ms to 1 s, until it works or the client is disposed.</summary>
    private Transport? ReconnectUntilDisposed()
    {
        TimeSpan delay = TimeSpan.FromMilliseconds(20);
        while (!IsDisposed)
        {
            try
            {
                Transport transport = _reconnect!();
                if (IsDisposed)
                {
                    transport.Dispose();
                    return null;
                }

                return transport;
            }
            catch (DeviceException)
            {
            }

            _disposedEvent.Wait(delay);
            delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, TimeSpan.TicksPerSecond));
        }

        return null;
    }

    /// <summary>Sends WATCH for every watch on the new connection (under the send lock); the task observes the replies.</summary>
    private Task RegisterWatchesAgain()
    {
        XenstoreWatch[] watches;
        lock (_watches)
        {
            watches = [.. _watches.Values];
        }

        var sent = new List<Task>(watches.Length);
        foreach (XenstoreWatch watch in watches)
        {
            sent.Add(CommandAsync(BuildWatch(XenstoreMessageType.Watch, watch), watch.Path, CancellationToken.None).AsTask());
        }

        return ObserveWatchRegistrationsAsync(sent);
    }

    private static async Task ObserveWatchRegistrationsAsync(List<Task> sent)
    {
        foreach (Task registration in sent)
        {
            try
            {
                await registration.ConfigureAwait(false);
            }
            catch (DeviceException)
            {
                // The connection dropped again (the next reconnection retries) or the server refused (quota).
            }
        }
    }

    private void FailPending(Exception error)
    {
        for (int i = 0; i < _slots.Length; i++)
        {
            if (Volatile.Read(ref _slots[i]) is { } request)
            {
                FailOne(request, error);
            }
        }

        if (Volatile.Read(ref _overflowCount) > 0)
        {
            PendingRequest[] overflow;
            lock (_overflow)
            {
                overflow = [.. _overflow.Values];
            }

            foreach (PendingRequest request in overflow)
            {
                FailOne(request, error);
            }
        }
    }

    private void FailOne(PendingRequest request, Exception error)
    {
        uint id = request.RequestId;
        if (request.TryClaim(id))
        {
            Remove(request, id);
            request.Fail(error);
        }
        else if (request.TryBury(id))
        {
            Remove(request, id);
        }
    }

    private void CompleteWatches()
    {
        XenstoreWatch[] watches;
        lock (_watches)
        {
            watches = [.. _watches.Values];
            _watches.Clear();
        }

        foreach (XenstoreWatch watch in watches)
        {
            watch.Complete();
        }
    }

    // ---------------------------------------------------------------- disposal

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
        FailPending(new DeviceDisconnectedException(XenstoreException.XenstoreDeviceName, $"the connection to {_endpoint} is closed"));
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
