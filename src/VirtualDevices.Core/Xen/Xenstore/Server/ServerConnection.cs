using System.Globalization;
using System.Text;
using VirtualDevices.IO;
using VirtualDevices.IO.Polling;

using VirtualDevices.Xen.Xenstore.Protocol;

namespace VirtualDevices.Xen.Xenstore.Server;

/// <summary>
/// One client of the embedded server, bound to a domain id, on any pollable <see cref="Transport"/>. It has no thread:
/// the server's <see cref="PollLoop"/> calls it when its transport is readable or writable, and it reads, answers
/// every whole request at once (the tree is under one lock anyway) and sends the replies without blocking, as
/// xenstored does. Replies and watch events go to a per-connection output queue under a lock (a watch event may be
/// appended by another thread, for domain introductions); only the loop's thread sends.
/// </summary>
/// <remarks>
/// Bounds (what a client that sends garbage, huge lengths or never reads meets):
/// a length over the 4096-byte payload limit closes the connection (xenstored kills it too);
/// while any of its output is unsent, none of its requests is read (xenstored's <c>quota-req-outstanding</c> stops
/// reading a domain's requests the same way), so its own replies stay within one batch of
/// <see cref="XenstoreServerOptions.MaxOutstandingRequests"/>;
/// watch events fired by other clients' changes are queued up to <see cref="XenstoreServerOptions.MaxPendingOutputBytes"/>,
/// past which the connection is closed (xenstored drops such events after 20 s instead; a closed connection is the
/// explicit failure we chose, as before this loop existed);
/// output that makes no progress for <see cref="XenstoreServerOptions.SendTimeout"/> closes it too.
/// </remarks>
internal sealed class ServerConnection : IPollHandler
{
    private const int MaxMessageSize = XenstoreLimits.HeaderSize + XenstoreLimits.PayloadMax;

    /// <summary>An output queue grown past this is given back once it drains (one storm does not pin it).</summary>
    private const int RetainedOutputSize = 16 * 1024;

    private readonly XenstoreDatabase _store;
    private readonly Transport _transport;
    private readonly ServerConnectionContext _context;
    private readonly object _outputLock = new();
    private readonly Action _pumpAction;
    private readonly Action _teardownAction;
    private readonly Action _receivePendingAction;
    private PollRegistration? _registration;

    // Loop thread only: bytes received but not processed (a partial message, or whole ones while reading is paused).
    private byte[]? _partial;
    private int _partialLength;
    private bool _paused;

    // Under _outputLock: the unsent output is _output[_outputStart.._outputEnd].
    private byte[]? _output;
    private int _outputStart;
    private int _outputEnd;
    private long _stalledSince;

    private int _pumpQueued;
    private int _closed;
    private bool _tornDown;

    internal ServerConnection(XenstoreDatabase store, Transport transport, int domainId, ServerConnectionContext context)
    {
        _store = store;
        _transport = transport;
        _context = context;
        DomainId = domainId;
        DomainPrefix = Encoding.ASCII.GetBytes(XenstorePath.DomainPath(domainId) + "/");
        _pumpAction = Pump;
        _teardownAction = Teardown;
        _receivePendingAction = ReceivePending;
    }

    /// <summary>The domain this connection speaks for; 0 for the unix socket, as with xenstored.</summary>
    internal int DomainId { get; }

    /// <summary>Dom0 bypasses permissions and quotas.</summary>
    internal bool IsPrivileged => DomainId == 0;

    /// <summary><c>/local/domain/&lt;id&gt;/</c>, prepended to relative paths.</summary>
    internal byte[] DomainPrefix { get; }

    /// <summary>Scratch space for the current request's absolute path (touched only under the store lock; shared by the server's connections).</summary>
    internal byte[] PathScratch => _context.PathScratch;

    /// <summary>Scratch space to build a reply payload (touched only under the store lock; shared by the server's connections).</summary>
    internal byte[] ReplyScratch => _context.ReplyScratch;

    internal Dictionary<uint, ServerTransaction> Transactions { get; } = [];

    /// <summary>
    /// The key of one of this connection's watches in the server's <see cref="WatchTable"/>: path and token cannot
    /// contain NUL. Keyed registration and removal keep 100,000 watches on one connection linear (a list scan took
    /// 38 s to register them, growing with the square).
    /// </summary>
    internal static string WatchKey(ReadOnlySpan<byte> path, ReadOnlySpan<byte> token) =>
        string.Concat(System.Text.Encoding.Latin1.GetString(path), "\0", System.Text.Encoding.Latin1.GetString(token));

    internal uint NextTransactionId { get; set; } = 1;

    internal bool IsClosed => Volatile.Read(ref _closed) != 0;

    /// <summary>True once the connection has left the loop and the tree, and its transport is released.</summary>
    internal bool IsTornDown => Volatile.Read(ref _tornDown);

    /// <summary>Registers the connection with the loop: from now on it is served.</summary>
    /// <param name="handle">The transport's <see cref="Transport.PollHandle"/>.</param>
    /// <exception cref="IOException">epoll refused the descriptor.</exception>
    /// <exception cref="ObjectDisposedException">The server is stopping.</exception>
    internal void Start(SafeHandle handle) => _context.Loop.Register(handle, PollEvents.Readable, this);

    /// <inheritdoc/>
    /// <remarks>Kept here, not from Register's return: the loop may call <see cref="OnPollEvents"/> before that returns.</remarks>
    void IPollHandler.OnRegistered(PollRegistration registration) => _registration = registration;

    /// <inheritdoc/>
    public void OnPollEvents(PollEvents events)
    {
        if (IsClosed)
        {
            Teardown();
            return;
        }

        if (_paused)
        {
            if ((events & (PollEvents.HangUp | PollEvents.Error)) != 0)
            {
                // Its output can no longer be delivered and its requests are not read: nothing left to do for it.
                Teardown();
                return;
            }

            Pump();
            return;
        }

        Receive();
    }

    private void Receive()
    {
        byte[] input = _context.Input;
        int end = 0;
        if (_partialLength > 0)
        {
            _partial.AsSpan(0, _partialLength).CopyTo(input);
            end = _partialLength;
            _partialLength = 0;
        }

        int received;
        try
        {
            received = _transport.ReceiveNonBlocking(input.AsSpan(end, ServerConnectionContext.ReceiveSize));
        }
        catch (IOException)
        {
            Teardown();
            return;
        }

        if (received == 0)
        {
            // End of stream: what was complete has been answered; a partial request dies with the connection.
            Teardown();
            return;
        }

        if (received > 0)
        {
            end += received;
        }

        ProcessInput(input, end);
    }

    /// <summary>Answers the whole requests in <paramref name="input"/>[..<paramref name="end"/>], keeps the rest.</summary>
    private void ProcessInput(byte[] input, int end)
    {
        int start = 0;
        int answered = 0;
        bool heldBack = false;
        while (end - start >= XenstoreLimits.HeaderSize && !IsClosed)
        {
            XenstoreMessageHeader header = XenstoreMessageHeader.Read(input.AsSpan(start));
            if (header.Length > XenstoreLimits.PayloadMax)
            {
                // xenstored drops a connection that exceeds the payload limit: its framing can no longer be trusted.
                Teardown();
                return;
            }

            int total = XenstoreLimits.HeaderSize + (int)header.Length;
            if (end - start < total)
            {
                break;
            }

            _store.Process(this, header, input.AsSpan(start + XenstoreLimits.HeaderSize, (int)header.Length));
            start += total;
            if (++answered >= _context.Options.MaxOutstandingRequests && end - start >= XenstoreLimits.HeaderSize)
            {
                // A client pipelining many requests gets no more answered before its replies are written.
                answered = 0;
                if (!Flush())
                {
                    heldBack = true;
                    break;
                }
            }
        }

        Keep(input.AsSpan(start, end - start));
        if (IsClosed)
        {
            Teardown();
            return;
        }

        // Requests held back stay paused even when the flush below empties the output (the peer read in between):
        // resumed for reading, they would wait for input that may never come (the client sent them all and waits for
        // the replies: the storm test's hang), and the next receive would append 64 KiB to kept bytes that no longer
        // fit the input buffer (a loop-thread crash). Paused, the writable event answers them, at once if the output
        // is empty. So kept bytes hold no whole request whenever the connection reads.
        if (!Flush() || heldBack)
        {
            Pause();
        }
        else
        {
            if (_paused)
            {
                Resume();
            }

            if (_transport.InputPending)
            {
                // A ring: a send that found no room took the events, requests' among them, then found room after
                // all. Posted rather than read here, so that a guest that keeps sending never deepens the stack.
                _context.Loop.Post(_receivePendingAction);
            }
        }
    }

    private void Keep(ReadOnlySpan<byte> rest)
    {
        _partialLength = rest.Length;
        if (rest.IsEmpty)
        {
            return;
        }

        if (_partial is null || _partial.Length < rest.Length)
        {
            _partial = new byte[Math.Max(rest.Length, 256)];
        }

        rest.CopyTo(_partial);
    }

    /// <summary>Stops reading requests until the output has been sent.</summary>
    private void Pause()
    {
        if (!_paused)
        {
            _paused = true;
            try
            {
                _registration!.Modify(_transport.WritableEvents);
            }
            catch (IOException)
            {
                Teardown();
            }
        }
    }

    /// <summary>Reads requests again once every kept one is answered and its output is sent.</summary>
    private void Resume()
    {
        _paused = false;
        try
        {
            _registration!.Modify(PollEvents.Readable);
        }
        catch (IOException)
        {
            Teardown();
        }
    }

    /// <summary>Reads input no poll event will announce (a ring's requests whose event a send took); loop thread.</summary>
    private void ReceivePending()
    {
        if (!_tornDown && !IsClosed && !_paused && _transport.InputPending)
        {
            Receive();
        }
    }

    /// <summary>Sends what it can (loop thread); once all output is gone, answers the requests kept meanwhile and reads again.</summary>
    private void Pump()
    {
        Volatile.Write(ref _pumpQueued, 0);
        if (_tornDown)
        {
            return;
        }

        if (IsClosed)
        {
            Teardown();
            return;
        }

        if (!Flush())
        {
            Pause();
            return;
        }

        if (_paused)
        {
            // Whole requests may be waiting in the kept bytes, with nothing more to come on the transport.
            byte[] input = _context.Input;
            int length = _partialLength;
            _partial.AsSpan(0, length).CopyTo(input);
            _partialLength = 0;
            ProcessInput(input, length);
        }
    }

    /// <summary>Sends pending output without blocking (loop thread); true when none is left.</summary>
    private bool Flush()
    {
        bool failed = false;
        lock (_outputLock)
        {
            if (_outputStart == _outputEnd)
            {
                return true;
            }

            int before = _outputStart;
            try
            {
                while (_outputStart < _outputEnd)
                {
                    int sent = _transport.SendNonBlocking(_output.AsSpan(_outputStart, _outputEnd - _outputStart));
                    if (sent <= 0)
                    {
                        break;
                    }

                    _outputStart += sent;
                }
            }
            catch (IOException)
            {
                failed = true;
            }

            if (!failed)
            {
                if (_outputStart == _outputEnd)
                {
                    _outputStart = _outputEnd = 0;
                    _stalledSince = 0;
                    if (_output!.Length > RetainedOutputSize)
                    {
                        _output = null;
                    }

                    return true;
                }

                if (_outputStart != before || _stalledSince == 0)
                {
                    _stalledSince = Environment.TickCount64;
                }

                return false;
            }
        }

        Close();
        return false;
    }

    /// <summary>Closes the connection if its output has made no progress for the send timeout (any thread).</summary>
    internal void CloseIfStalled(long now)
    {
        long since;
        lock (_outputLock)
        {
            since = _stalledSince;
        }

        if (since != 0 && now - since > (long)_context.Options.SendTimeout.TotalMilliseconds)
        {
            Close();
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
            int pending = _outputEnd - _outputStart;
            if (pending + size > _context.Options.MaxPendingOutputBytes)
            {
                overflow = true;
            }
            else
            {
                if (_output is null)
                {
                    _output = new byte[Math.Max(4096, size)];
                }
                else if (_output.Length - _outputEnd < size)
                {
                    if (_output.Length - pending < size)
                    {
                        byte[] grown = new byte[Math.Max(_output.Length * 2, pending + size)];
                        _output.AsSpan(_outputStart, pending).CopyTo(grown);
                        _output = grown;
                    }
                    else
                    {
                        _output.AsSpan(_outputStart, pending).CopyTo(_output);
                    }

                    _outputStart = 0;
                    _outputEnd = pending;
                }

                Span<byte> destination = _output.AsSpan(_outputEnd, size);
                new XenstoreMessageHeader(type, requestId, transactionId, (uint)payload).Write(destination);
                first.CopyTo(destination[XenstoreLimits.HeaderSize..]);
                second.CopyTo(destination[(XenstoreLimits.HeaderSize + first.Length)..]);
                third.CopyTo(destination[(XenstoreLimits.HeaderSize + first.Length + second.Length)..]);
                fourth.CopyTo(destination[(XenstoreLimits.HeaderSize + first.Length + second.Length + third.Length)..]);
                _outputEnd += size;
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

    /// <summary>Has the loop send what is pending: for watch events raised by another connection's request or by
    /// another thread (called under the store lock). Coalesced: one pump queued at a time, no allocation.</summary>
    internal void ScheduleFlush()
    {
        if (!IsClosed && Interlocked.Exchange(ref _pumpQueued, 1) == 0)
        {
            _context.Loop.Post(_pumpAction);
        }
    }

    /// <summary>Stops the connection (any thread): the loop then releases it (watches, transactions, transport).</summary>
    internal void Close()
    {
        if (Interlocked.Exchange(ref _closed, 1) != 0)
        {
            return;
        }

        // Tells the peer at once, even before the loop gets to the teardown.
        _transport.Shutdown();
        _context.Loop.Post(_teardownAction);
    }

    /// <summary>Leaves the loop and the tree and releases the transport (loop thread, or after the loop stopped). Idempotent.</summary>
    internal void Teardown()
    {
        if (_tornDown)
        {
            return;
        }

        Volatile.Write(ref _tornDown, true);
        Volatile.Write(ref _closed, 1);
        _registration?.Remove();
        _store.Unregister(this);
        _transport.Dispose();
        lock (_outputLock)
        {
            _output = null;
            _outputStart = _outputEnd = 0;
        }

        _partial = null;
        _partialLength = 0;
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
