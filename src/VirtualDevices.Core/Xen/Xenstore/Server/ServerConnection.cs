using System.Globalization;
using System.Net.Sockets;
using System.Text;
using VirtualDevices.Xen.Xenstore.Protocol;

namespace VirtualDevices.Xen.Xenstore.Server;

/// <summary>
/// One client of the embedded server, bound to a domain id. Its requests are read and answered on a dedicated
/// thread with blocking socket calls: a request then costs one thread wake-up, as in a bare request/response loop,
/// where an async receive would add a hop from the socket engine to the thread pool. Replies and watch events are
/// appended to an output buffer under a lock and sent by whoever flushes: the connection's own thread after each
/// batch of requests, or its flusher thread when another connection's change fires a watch here. The flusher is a
/// thread of its own (started with the first such event), because its send blocks while the client does not read:
/// on the thread pool, one client that never reads would starve the flushes of every other watcher.
/// </summary>
internal sealed class ServerConnection
{
    private const int InputBufferSize = 64 * 1024;
    private const int MaxMessageSize = XenstoreLimits.HeaderSize + XenstoreLimits.PayloadMax;

    private readonly XenstoreDatabase _store;
    private readonly Socket _socket;
    private readonly XenstoreServerOptions _options;
    private readonly object _outputLock = new();
    private readonly Thread _thread;
    private byte[] _pending = new byte[8192];
    private int _pendingLength;
    private byte[] _sending = new byte[8192];
    private bool _flushing;
    private int _flushQueued;
    private SemaphoreSlim? _flushSignal;
    private int _closed;

    internal ServerConnection(XenstoreDatabase store, Socket socket, int domainId, XenstoreServerOptions options, int number)
    {
        _store = store;
        _socket = socket;
        _options = options;
        DomainId = domainId;
        DomainPrefix = Encoding.ASCII.GetBytes(XenstorePath.DomainPath(domainId) + "/");
        _thread = new Thread(Run) { IsBackground = true, Name = "xenstored-conn-" + number.ToString(CultureInfo.InvariantCulture) };
    }

    /// <summary>The domain this connection speaks for; 0 for the unix socket, as with xenstored.</summary>
    internal int DomainId { get; }

    /// <summary>Dom0 bypasses permissions and quotas.</summary>
    internal bool IsPrivileged => DomainId == 0;

    /// <summary><c>/local/domain/&lt;id&gt;/</c>, prepended to relative paths.</summary>
    internal byte[] DomainPrefix { get; }

    /// <summary>Scratch space for the current request's absolute path (touched only under the store lock).</summary>
    internal byte[] PathScratch { get; } = new byte[XenstoreLimits.AbsolutePathMax + 64];

    /// <summary>Scratch space to build a reply payload (touched only under the store lock).</summary>
    internal byte[] ReplyScratch { get; } = new byte[XenstoreLimits.PayloadMax + 64];

    internal Dictionary<uint, ServerTransaction> Transactions { get; } = [];

    internal List<ServerWatch> Watches { get; } = [];

    /// <summary>
    /// The (path, token) pairs of <see cref="Watches"/>, so that refusing a duplicate registration costs O(1): a scan
    /// of the list made registering 100,000 watches on one connection take 38 s, growing with the square.
    /// </summary>
    internal HashSet<string> WatchKeys { get; } = new(StringComparer.Ordinal);

    /// <summary>The key of a watch in <see cref="WatchKeys"/>: path and token cannot contain NUL.</summary>
    internal static string WatchKey(ReadOnlySpan<byte> path, ReadOnlySpan<byte> token) =>
        string.Concat(System.Text.Encoding.Latin1.GetString(path), "\0", System.Text.Encoding.Latin1.GetString(token));

    internal uint NextTransactionId { get; set; } = 1;

    internal bool IsClosed => Volatile.Read(ref _closed) != 0;

    internal Thread Thread => _thread;

    internal void Start() => _thread.Start();

    private void Run()
    {
        byte[] input = new byte[InputBufferSize];
        int start = 0;
        int end = 0;
        try
        {
            _socket.SendTimeout = (int)_options.SendTimeout.TotalMilliseconds;
            while (!IsClosed)
            {
                if (input.Length - end < MaxMessageSize)
                {
                    // Keep room for a whole message: move the partial one to the front.
                    input.AsSpan(start, end - start).CopyTo(input);
                    end -= start;
                    start = 0;
                }

                int received = _socket.Receive(input.AsSpan(end));
                if (received <= 0)
                {
                    break;
                }

                end += received;
                int answered = 0;
                while (end - start >= XenstoreLimits.HeaderSize)
                {
                    XenstoreMessageHeader header = XenstoreMessageHeader.Read(input.AsSpan(start));
                    if (header.Length > XenstoreLimits.PayloadMax)
                    {
                        // xenstored drops a connection that exceeds the payload limit: its framing can no longer be trusted.
                        return;
                    }

                    int total = XenstoreLimits.HeaderSize + (int)header.Length;
                    if (end - start < total)
                    {
                        break;
                    }

                    _store.Process(this, header, input.AsSpan(start + XenstoreLimits.HeaderSize, (int)header.Length));
                    start += total;
                    if (++answered >= _options.MaxOutstandingRequests)
                    {
                        // A client pipelining many requests waits for its replies to be written before more are read.
                        Flush();
                        answered = 0;
                    }
                }

                if (start == end)
                {
                    start = end = 0;
                }

                Flush();
            }
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException or IOException)
        {
            // The peer went away or the connection was closed: clean up below.
        }
        finally
        {
            Close();
            _store.Unregister(this);
            _socket.Dispose();
        }
    }

    /// <summary>Appends one message; called under the store lock. Drops it (and closes the connection) when the
    /// client lets too much output pile up.</summary>
    internal void Append(XenstoreMessageType type, uint requestId, uint transactionId, ReadOnlySpan<byte> first,
        ReadOnlySpan<byte> second = default, ReadOnlySpan<byte> third = default, ReadOnlySpan<byte> fourth = default)
    {
        if (IsClosed)
        {
            return;
        }

        int payload = first.Length + second.Length + third.Length + fourth.Length;
        int size = XenstoreLimits.HeaderSize + payload;
        bool overflow = false;
        lock (_outputLock)
        {
            if (_pendingLength + size > _options.MaxPendingOutputBytes)
            {
                overflow = true;
            }
            else
            {
                if (_pending.Length - _pendingLength < size)
                {
                    Array.Resize(ref _pending, Math.Max(_pending.Length * 2, _pendingLength + size));
                }

                Span<byte> destination = _pending.AsSpan(_pendingLength, size);
                new XenstoreMessageHeader(type, requestId, transactionId, (uint)payload).Write(destination);
                first.CopyTo(destination[XenstoreLimits.HeaderSize..]);
                second.CopyTo(destination[(XenstoreLimits.HeaderSize + first.Length)..]);
                third.CopyTo(destination[(XenstoreLimits.HeaderSize + first.Length + second.Length)..]);
                fourth.CopyTo(destination[(XenstoreLimits.HeaderSize + first.Length + second.Length + third.Length)..]);
                _pendingLength += size;
            }
        }

        if (overflow)
        {
            Close();
        }
    }

    /// <summary>Appends an error reply such as <c>ENOENT</c>.</summary>
    internal void AppendError(in XenstoreMessageHeader request, ReadOnlySpan<byte> errorName) =>
        Append(XenstoreMessageType.Error, request.RequestId, request.TransactionId, errorName);

    /// <summary>Appends a reply carrying the request's type, id and transaction.</summary>
    internal void AppendReply(in XenstoreMessageHeader request, ReadOnlySpan<byte> payload) =>
        Append(request.Type, request.RequestId, request.TransactionId, payload);

    /// <summary>Sends what is pending, unless another thread is already doing so (it will send ours too).</summary>
    internal void Flush()
    {
        while (true)
        {
            byte[] buffer;
            int length;
            lock (_outputLock)
            {
                if (_flushing || _pendingLength == 0)
                {
                    return;
                }

                _flushing = true;
                buffer = _pending;
                length = _pendingLength;
                _pending = _sending;
                _pendingLength = 0;
                _sending = buffer;
            }

            try
            {
                int sent = 0;
                while (sent < length)
                {
                    sent += _socket.Send(buffer.AsSpan(sent, length - sent));
                }
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException)
            {
                Close();
                lock (_outputLock)
                {
                    _pendingLength = 0;
                    _flushing = false;
                }

                return;
            }

            lock (_outputLock)
            {
                _flushing = false;
                if (_pendingLength == 0)
                {
                    return;
                }
            }
        }
    }

    /// <summary>Has the flusher thread send what is pending: for watch events raised by another connection's request
    /// (called under the store lock, so the flusher is created once).</summary>
    internal void ScheduleFlush()
    {
        if (IsClosed)
        {
            return;
        }

        if (_flushSignal is null)
        {
            _flushSignal = new SemaphoreSlim(0);
            new Thread(FlushLoop) { IsBackground = true, Name = _thread.Name + "-flush" }.Start();
        }

        if (Interlocked.Exchange(ref _flushQueued, 1) == 0)
        {
            _flushSignal.Release();
        }
    }

    private void FlushLoop()
    {
        while (true)
        {
            // The timeout only bounds how long a flusher outlives a connection closed in a race with its creation.
            _flushSignal!.Wait(TimeSpan.FromSeconds(1));
            if (IsClosed)
            {
                return;
            }

            Volatile.Write(ref _flushQueued, 0);
            Flush();
        }
    }

    /// <summary>Stops the connection: its thread sees end of stream and cleans up (watches, transactions).</summary>
    internal void Close()
    {
        if (Interlocked.Exchange(ref _closed, 1) != 0)
        {
            return;
        }

        try
        {
            // shutdown wakes the connection's thread from a blocking receive and the flusher from a blocking send.
            _socket.Shutdown(SocketShutdown.Both);
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
        }

        _flushSignal?.Release();
    }

    /// <summary>Writes a decimal number followed by a nul; returns the bytes written.</summary>
    internal static int FormatNumber(ulong value, Span<byte> destination)
    {
        value.TryFormat(destination, out int written, default, CultureInfo.InvariantCulture);
        destination[written] = 0;
        return written + 1;
    }

    /// <summary>Parses a decimal number terminated by the end of the span.</summary>
    internal static bool TryParseNumber(ReadOnlySpan<byte> text, out ulong value)
    {
        value = 0;
        if (text.IsEmpty || text.Length > 19)
        {
            return false;
        }

        foreach (byte c in text)
        {
            if (c is < (byte)'0' or > (byte)'9')
            {
                return false;
            }

            value = (value * 10) + (ulong)(c - '0');
        }

        return true;
    }
}
