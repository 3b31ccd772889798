using System.Buffers;
using System.Buffers.Binary;
using System.Net.Security;
using System.Net.Sockets;
using VirtualDevices.IO;
using VirtualDevices.Block;
using VirtualDevices.Nbd.Protocol;

namespace VirtualDevices.Nbd.Client;

/// <summary>
/// One NBD connection in transmission phase: requests (pooled by a <see cref="RequestTable{TRequest}"/>, the cookie
/// is the table's id) go out through a <see cref="FrameWriter"/> (from the caller's thread when nothing else is being
/// sent), and a reading thread of the connection's own matches replies to requests by cookie, so any number of requests can be in flight. Every reply is checked against its request before
/// a byte of it reaches the caller's buffer; anything that does not fit is a protocol error that tears the
/// connection down.
/// </summary>
/// <remarks>
/// The reading thread blocks in <c>recv</c> and receives read data straight into the caller's buffer (see
/// <see cref="Transport"/> for why a thread rather than asynchronous socket calls). Callers are completed on the
/// thread pool, never on the reading thread, so a caller that blocks cannot stall the connection (unless the caller
/// asked otherwise with <see cref="NbdClientOptions.UnsafeInlineCompletions"/>).
/// </remarks>
internal sealed class NbdClientConnection : IAsyncDisposable
{
    /// <summary>Block status payloads beyond this are taken as hostile (65536 extents is far more than any server sends).</summary>
    private const int MaximumStatusPayload = 8 + (16 * 65536);

    /// <summary>An error chunk: errno, message length, a message of at most 4096 bytes, and an offset.</summary>
    private const int MaximumErrorPayload = 6 + 4096 + 8;

    private readonly string _deviceName;
    private readonly Transport _transport;
    private readonly SslStream? _tls;
    private readonly InputBuffer _input;
    private readonly FrameWriter _writer;
    private readonly RequestTable<NbdClientRequest> _table;
    private readonly NbdNegotiation _negotiation;
    private readonly long _timeoutMilliseconds;
    private readonly Timer? _timer;
    private readonly TaskCompletionSource _readerDone = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private Exception? _dead;
    private int _started;
    private Action<Exception>? _onDead;

    /// <param name="deviceName">The device's name, for messages.</param>
    /// <param name="transport">The socket's transport (closing it ends every blocked call).</param>
    /// <param name="tls">The TLS session over it, if one was started (the input buffer's transport then reads through it).</param>
    /// <param name="input">The handshake's input buffer, reading through TLS if any; bytes already buffered are replies.</param>
    /// <param name="negotiation">What the handshake settled.</param>
    /// <param name="options">The client's options.</param>
    public NbdClientConnection(string deviceName, Transport transport, SslStream? tls, InputBuffer input, NbdNegotiation negotiation, NbdClientOptions options)
    {
        TimeSpan requestTimeout = options.RequestTimeout;
        InlineCompletions = options.UnsafeInlineCompletions;
        _deviceName = deviceName;
        _transport = transport;
        _tls = tls;
        _input = input;
        _table = new RequestTable<NbdClientRequest>(() => new NbdClientRequest(this));
        _negotiation = negotiation;
        ExtendedHeaders = negotiation.ExtendedHeaders;
        _writer = new FrameWriter(input.Transport, $"nbd-write {deviceName}", Abort);
        _timeoutMilliseconds = requestTimeout == Timeout.InfiniteTimeSpan ? long.MaxValue / 2 : (long)requestTimeout.TotalMilliseconds;
        if (requestTimeout != Timeout.InfiniteTimeSpan)
        {
            TimeSpan period = TimeSpan.FromMilliseconds(Math.Clamp(requestTimeout.TotalMilliseconds / 4, 50, 1000));
            _timer = new Timer(static state => ((NbdClientConnection)state!).CheckTimeouts(), this, Timeout.InfiniteTimeSpan, period);
            _timer.Change(period, period);
        }
    }

    public NbdNegotiation Negotiation => _negotiation;

    public bool ExtendedHeaders { get; }

    /// <summary>Continuations run where the request completes (usually the reading thread): see <see cref="NbdClientOptions.UnsafeInlineCompletions"/>.</summary>
    public bool InlineCompletions { get; }

    public bool IsAlive => Volatile.Read(ref _dead) is null;

    public int InFlight => _table.InFlight;

    /// <summary>Starts the writer and reader; <paramref name="onDead"/> is told once when the connection dies.</summary>
    public void Start(Action<Exception> onDead)
    {
        _onDead = onDead;
        if (Interlocked.Exchange(ref _started, 1) != 0)
        {
            // Disposed before it was started: the disposal tore it down itself.
            return;
        }

        new Thread(static state => ((NbdClientConnection)state!).ReadLoop()) { IsBackground = true, Name = $"nbd-read {_deviceName}" }.UnsafeStart(this);
    }

    /// <summary>
    /// Queues a request without payload-less result (read, write, flush, trim, zero, cache); with
    /// <paramref name="inline"/>, the caller continues on the thread that completes the request (see
    /// <see cref="IInlineCompletionReader"/>).
    /// </summary>
    public ValueTask SubmitAsync(NbdCommand command, NbdCommandFlags flags, long offset, long length, Memory<byte> readBuffer, ReadOnlyMemory<byte> payload,
        CancellationToken cancellationToken, bool inline = false)
    {
        NbdClientRequest? request = Submit(command, flags, offset, length, readBuffer, payload, default, 1, cancellationToken, inline, out short version, out Exception? error);
        return request is null ? ValueTask.FromException(error!) : new ValueTask(request, version);
    }

    /// <summary>Queues a block status request; the result is the number of extents written to <paramref name="extents"/>.</summary>
    public ValueTask<int> SubmitBlockStatusAsync(long offset, long length, Memory<BlockExtent> extents, int sectorSize, CancellationToken cancellationToken)
    {
        NbdClientRequest? request = Submit(NbdCommand.BlockStatus, NbdCommandFlags.None, offset, length, default, default, extents, sectorSize, cancellationToken,
            inline: false, out short version, out Exception? error);
        return request is null ? ValueTask.FromException<int>(error!) : new ValueTask<int>(request, version);
    }

    private NbdClientRequest? Submit(NbdCommand command, NbdCommandFlags flags, long offset, long length, Memory<byte> readBuffer, ReadOnlyMemory<byte> payload,
        Memory<BlockExtent> extents, int sectorSize, CancellationToken cancellationToken, bool inline, out short version, out Exception? error)
    {
        if (Volatile.Read(ref _dead) is { } dead)
        {
            version = 0;
            error = dead;
            return null;
        }

        // Never waits: the table is unbounded (the caller bounds what it keeps in flight). A request begun after the
        // teardown closed the table is failed by the table.
        NbdClientRequest request = _table.Rent();
        request.Prepare(command, flags, offset, length, readBuffer, payload, extents, sectorSize, Environment.TickCount64 + _timeoutMilliseconds,
            inline || InlineCompletions);
        version = request.Version;
        error = null;
        request.RegisterCancellation(cancellationToken);

        // Requests are sent from the caller's thread when the connection is idle; a large write payload is handed to
        // the writer thread rather than making the caller wait for the server to take it.
        _writer.Enqueue(request, mayBlock: false);
        return request;
    }

    /// <summary>Takes the connection for dead: closes the socket, which ends the reader, which fails every request.</summary>
    public void Abort(Exception reason)
    {
        if (Interlocked.CompareExchange(ref _dead, Wrap(reason), null) is null)
        {
            CloseTransport();
        }
    }

    /// <summary>Soft disconnect: waits (bounded) for requests in flight, sends NBD_CMD_DISC, and closes.</summary>
    public async ValueTask DisconnectAsync(CancellationToken cancellationToken)
    {
        if (IsAlive)
        {
            // The spec asks clients to let requests in flight finish before disconnecting.
            var clock = System.Diagnostics.Stopwatch.StartNew();
            while (InFlight > 0 && IsAlive && clock.Elapsed < TimeSpan.FromSeconds(5) && !cancellationToken.IsCancellationRequested)
            {
                await Task.Delay(2, CancellationToken.None).ConfigureAwait(false);
            }

            if (IsAlive)
            {
                // The sends below block on a server that stopped reading (the TLS close too): past this bound, or on
                // cancellation, the socket is closed under them.
                using var bound = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                bound.CancelAfter(TimeSpan.FromSeconds(10));
                using CancellationTokenRegistration closing = bound.Token.UnsafeRegister(
                    static state => ((NbdClientConnection)state!).Abort(new TimeoutException("the server did not take the disconnect")), this);
                _writer.Enqueue(new DisconnectMessage(ExtendedHeaders), mayBlock: true);
                try
                {
                    await _writer.DrainAndStopAsync(TimeSpan.FromSeconds(5)).ConfigureAwait(false);
                    if (_tls is not null)
                    {
                        await _tls.ShutdownAsync().WaitAsync(TimeSpan.FromSeconds(2), cancellationToken).ConfigureAwait(false);
                    }

                    _transport.ShutdownSend();
                    // The server closes its end after DISC; wait briefly so it sees a clean disconnect.
                    await _readerDone.Task.WaitAsync(TimeSpan.FromSeconds(2), cancellationToken).ConfigureAwait(false);
                }
                catch (Exception e) when (e is TimeoutException or IOException or SocketException or ObjectDisposedException or OperationCanceledException)
                {
                }
            }
        }

        await CloseAndWaitAsync().ConfigureAwait(false);
    }

    public ValueTask DisposeAsync() => CloseAndWaitAsync();

    /// <summary>Closes the socket and waits for the teardown, which the reading thread does, or this call if there is none.</summary>
    private async ValueTask CloseAndWaitAsync()
    {
        Abort(new DeviceDisconnectedException(_deviceName));

        // A connection of a multi-conn set that failed to connect as a whole was never started: no reading thread
        // would ever end the wait below (the connect hung for ever), so the teardown happens here.
        if (Interlocked.Exchange(ref _started, 1) == 0)
        {
            Teardown(Volatile.Read(ref _dead)!);
        }

        await _readerDone.Task.ConfigureAwait(false);
    }

    private Exception Wrap(Exception reason) => reason switch
    {
        NbdProtocolException or DeviceDisconnectedException => reason,
        TimeoutException => new DeviceDisconnectedException(_deviceName, reason.Message, reason),
        EndOfStreamException => new DeviceDisconnectedException(_deviceName, "the server closed the connection", reason),
        _ => new DeviceDisconnectedException(_deviceName, reason.Message, reason),
    };

    private void CloseTransport() => _transport.Dispose();

    private void CheckTimeouts()
    {
        long now = Environment.TickCount64;
        for (int i = 0; i < _table.SlotCount; i++)
        {
            if (_table.SlotAt(i) is { IsInTable: true } request && now > request.Deadline)
            {
                Abort(new TimeoutException($"the server did not answer a {request.Command} request within {_timeoutMilliseconds} ms"));
                return;
            }
        }
    }

    /// <summary>The reading thread: runs until the connection dies, then fails whatever is still in flight.</summary>
    private void ReadLoop()
    {
        Exception failure;
        try
        {
            while (true)
            {
                _input.Fill(4);
                uint magic = BinaryPrimitives.ReadUInt32BigEndian(_input.Peek(4));
                if (magic == NbdMagic.SimpleReply && !_negotiation.ExtendedHeaders)
                {
                    ReceiveSimpleReply();
                }
                else if (magic == NbdMagic.StructuredReply && _negotiation.StructuredReplies && !_negotiation.ExtendedHeaders)
                {
                    ReceiveChunk(extended: false);
                }
                else if (magic == NbdMagic.ExtendedReply && _negotiation.ExtendedHeaders)
                {
                    ReceiveChunk(extended: true);
                }
                else
                {
                    throw Violation($"bad reply magic 0x{magic:x8}");
                }
            }
        }
        catch (Exception e)
        {
            failure = e;
        }

        Teardown(failure);
    }

    private void Teardown(Exception failure)
    {
        // A failure after Abort (the socket closed under the reader) reports Abort's reason, not the read error.
        Interlocked.CompareExchange(ref _dead, Wrap(failure), null);
        Exception reason = Volatile.Read(ref _dead)!;
        CloseTransport();
        _timer?.Dispose();
        _writer.Fail(reason);

        // The device is marked disconnected before any caller learns of the failure, so a caller that sees its
        // request fail also sees IsConnected false.
        _onDead?.Invoke(reason);
        _table.Close(reason);

        _input.Dispose();
        _writer.Dispose();
        _readerDone.TrySetResult();
    }

    private NbdClientRequest Lookup(ulong cookie)
    {
        return _table.Lookup(cookie) ?? throw Violation($"reply for unknown cookie 0x{cookie:x16}");
    }

    private void ReceiveSimpleReply()
    {
        _input.Fill(16);
        ReadOnlySpan<byte> header = _input.Take(16);
        int error = (int)BinaryPrimitives.ReadUInt32BigEndian(header[4..]);
        NbdClientRequest request = Lookup(BinaryPrimitives.ReadUInt64BigEndian(header[8..]));
        if (error == 0 && request.Command == NbdCommand.Read)
        {
            if (_negotiation.StructuredReplies)
            {
                throw Violation("simple reply to a read after structured replies were negotiated");
            }

            // The simple reply carries no length: the data is exactly what was asked for.
            ReceiveInto(request, 0, (int)request.Length);
            request.Cover(0, request.Length);
        }
        else if (error == 0 && request.Command == NbdCommand.BlockStatus)
        {
            throw Violation("simple reply to a block status request");
        }

        Finish(request, error == 0 ? null : MapError(request, error, null));
    }

    private void ReceiveChunk(bool extended)
    {
        int headerLength = extended ? 32 : 20;
        _input.Fill(headerLength);
        ReadOnlySpan<byte> header = _input.Take(headerLength);
        bool done = (BinaryPrimitives.ReadUInt16BigEndian(header[4..]) & 1) != 0;
        var type = (NbdChunkType)BinaryPrimitives.ReadUInt16BigEndian(header[6..]);
        ulong cookie = BinaryPrimitives.ReadUInt64BigEndian(header[8..]);
        ulong length = extended ? BinaryPrimitives.ReadUInt64BigEndian(header[24..]) : BinaryPrimitives.ReadUInt32BigEndian(header[16..]);
        NbdClientRequest request = Lookup(cookie);
        switch (type)
        {
            case NbdChunkType.None:
                if (length != 0 || !done)
                {
                    throw Violation("NBD_REPLY_TYPE_NONE with a payload or without the done flag");
                }

                break;
            case NbdChunkType.OffsetData:
                ReceiveOffsetData(request, length);
                break;
            case NbdChunkType.OffsetHole:
                ReceiveOffsetHole(request, length);
                break;
            case NbdChunkType.BlockStatus when !extended:
            case NbdChunkType.BlockStatusExtended when extended:
                ReceiveBlockStatus(request, length, extended);
                break;
            default:
                if (((ushort)type & 0x8000) == 0)
                {
                    throw Violation($"unexpected chunk type {(ushort)type} for a {request.Command} request");
                }

                ReceiveError(request, type, length);
                break;
        }

        if (!done)
        {
            return;
        }

        if (request.ReplyError is null)
        {
            if (request.Command == NbdCommand.Read && request.Covered != request.Length)
            {
                throw Violation($"read reply covered {request.Covered} of {request.Length} bytes");
            }

            if (request.Command == NbdCommand.BlockStatus && !request.GotStatus)
            {
                throw Violation("block status reply without extents");
            }
        }

        Finish(request, request.ReplyError);
    }

    private void ReceiveOffsetData(NbdClientRequest request, ulong length)
    {
        if (request.Command != NbdCommand.Read)
        {
            throw Violation($"data chunk for a {request.Command} request");
        }

        if (length < 8 || length - 8 > (ulong)request.Length)
        {
            throw Violation($"data chunk of {length} bytes for a read of {request.Length}");
        }

        _input.Fill(8);
        long start = CheckRange(request, BinaryPrimitives.ReadUInt64BigEndian(_input.Take(8)), length - 8);
        int count = (int)(length - 8);
        if (!request.Cover(start, count))
        {
            throw Violation("overlapping data chunks");
        }

        ReceiveInto(request, (int)start, count);
    }

    private void ReceiveOffsetHole(NbdClientRequest request, ulong length)
    {
        if (request.Command != NbdCommand.Read || length != 12)
        {
            throw Violation($"hole chunk of {length} bytes for a {request.Command} request");
        }

        _input.Fill(12);
        ReadOnlySpan<byte> payload = _input.Take(12);
        uint holeLength = BinaryPrimitives.ReadUInt32BigEndian(payload[8..]);
        long start = CheckRange(request, BinaryPrimitives.ReadUInt64BigEndian(payload), holeLength);
        if (holeLength == 0 || !request.Cover(start, holeLength))
        {
            throw Violation("empty or overlapping hole chunk");
        }

        if (request.BeginReceive())
        {
            request.ReadBuffer.Span.Slice((int)start, (int)holeLength).Clear();
            request.EndReceive();
        }
    }

    private void ReceiveBlockStatus(NbdClientRequest request, ulong length, bool extended)
    {
        int prefix = extended ? 8 : 4;
        int descriptor = extended ? 16 : 8;
        if (request.Command != NbdCommand.BlockStatus || length < (ulong)(prefix + descriptor) || length > MaximumStatusPayload
            || (length - (ulong)prefix) % (ulong)descriptor != 0)
        {
            throw Violation($"block status chunk of {length} bytes for a {request.Command} request");
        }

        byte[] payload = ArrayPool<byte>.Shared.Rent((int)length);
        try
        {
            _input.ReadExactly(payload.AsSpan(0, (int)length));
            uint context = BinaryPrimitives.ReadUInt32BigEndian(payload);
            if (context != _negotiation.AllocationContextId)
            {
                throw Violation($"block status for metadata context {context}, which was not negotiated");
            }

            if (request.GotStatus)
            {
                throw Violation("two block status chunks for one context");
            }

            int count = (int)((length - (ulong)prefix) / (ulong)descriptor);
            if (extended && BinaryPrimitives.ReadUInt32BigEndian(payload.AsSpan(4)) != count)
            {
                throw Violation("extended block status descriptor count does not match its length");
            }

            request.GotStatus = true;
            if (request.BeginReceive())
            {
                try
                {
                    request.ExtentCount = ParseExtents(request, payload.AsSpan(prefix, (int)length - prefix), extended);
                }
                finally
                {
                    request.EndReceive();
                }
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(payload);
        }
    }

    private void ReceiveError(NbdClientRequest request, NbdChunkType type, ulong length)
    {
        if (length < 6 || length > MaximumErrorPayload)
        {
            throw Violation($"error chunk of {length} bytes");
        }

        byte[] payload = new byte[length];
        _input.ReadExactly(payload);
        int errno = (int)BinaryPrimitives.ReadUInt32BigEndian(payload);
        int messageLength = BinaryPrimitives.ReadUInt16BigEndian(payload.AsSpan(4));
        if (errno == 0 || 6 + messageLength > payload.Length
            || (type == NbdChunkType.Error && payload.Length != 6 + messageLength)
            || (type == NbdChunkType.ErrorOffset && payload.Length != 6 + messageLength + 8))
        {
            throw Violation($"malformed error chunk (errno {errno}, message {messageLength} bytes, payload {length} bytes)");
        }

        if (type == NbdChunkType.ErrorOffset)
        {
            CheckRange(request, BinaryPrimitives.ReadUInt64BigEndian(payload.AsSpan(6 + messageLength)), 1);
        }

        string message = NbdOptionChannel.DecodeString(payload.AsSpan(6, messageLength));
        request.ReplyError ??= MapError(request, errno, message);
    }

    /// <summary>Receives chunk data into the caller's buffer, or discards it if the caller has gone.</summary>
    private void ReceiveInto(NbdClientRequest request, int start, int count)
    {
        if (!request.BeginReceive())
        {
            _input.Skip(count);
            return;
        }

        try
        {
            _input.ReadExactly(request.ReadBuffer.Span.Slice(start, count));
        }
        finally
        {
            request.EndReceive();
        }
    }

    /// <summary>Checks that [offset, +length) lies inside the request; returns the offset relative to it.</summary>
    private long CheckRange(NbdClientRequest request, ulong offset, ulong length)
    {
        if (offset < (ulong)request.Offset || offset - (ulong)request.Offset > (ulong)request.Length
            || length > (ulong)request.Length - (offset - (ulong)request.Offset))
        {
            throw Violation($"chunk at offset {offset} (+{length}) is outside the request {request.Offset} (+{request.Length})");
        }

        return (long)(offset - (ulong)request.Offset);
    }

    /// <summary>
    /// Turns byte-granular descriptors into whole-sector extents of the request's range. A sector that straddles
    /// data and a hole is reported as data: claiming zeroes that are not there would be silently wrong data.
    /// </summary>
    private int ParseExtents(NbdClientRequest request, ReadOnlySpan<byte> descriptors, bool extended)
    {
        int size = request.SectorSize;
        long limit = request.Offset + request.Length;
        long position = request.Offset;
        long emitted = request.Offset;
        Span<BlockExtent> extents = request.Extents.Span;
        int count = 0;
        int step = extended ? 16 : 8;
        for (int i = 0; i + step <= descriptors.Length; i += step)
        {
            ulong length = extended ? BinaryPrimitives.ReadUInt64BigEndian(descriptors[i..]) : BinaryPrimitives.ReadUInt32BigEndian(descriptors[i..]);
            uint flags = extended ? (uint)BinaryPrimitives.ReadUInt64BigEndian(descriptors[(i + 8)..]) : BinaryPrimitives.ReadUInt32BigEndian(descriptors[(i + 4)..]);
            if (length == 0 || length > (ulong)(long.MaxValue - position))
            {
                throw Violation($"block status extent of length {length}");
            }

            position += (long)length;
            if (emitted >= limit)
            {
                continue;
            }

            var state = (BlockExtentFlags)(flags & 3);
            long end = Math.Min(position, limit);
            end = state == BlockExtentFlags.Data ? Math.Min(RoundUp(end, size), limit) : end / size * size;
            if (end <= emitted)
            {
                continue;
            }

            if (count > 0 && extents[count - 1].Flags == state)
            {
                BlockExtent last = extents[count - 1];
                extents[count - 1] = last with { Count = last.Count + ((end - emitted) / size) };
            }
            else if (count < extents.Length)
            {
                extents[count++] = new BlockExtent(emitted / size, (end - emitted) / size, state);
            }
            else
            {
                break;
            }

            emitted = end;
        }

        if (count == 0)
        {
            // Only a hole smaller than a sector: say nothing more than "data" about the first sector.
            extents[0] = new BlockExtent(request.Offset / size, 1, BlockExtentFlags.Data);
            count = 1;
        }

        return count;
    }

    private static long RoundUp(long value, int size) => (value + size - 1) / size * size;

    private void Finish(NbdClientRequest request, Exception? error)
    {
        request.ReplyError = error;
        request.OnReplied();
        request.LeaveTable();
        if (error is DeviceDisconnectedException)
        {
            // NBD_ESHUTDOWN: the server is going away, and the spec asks the client to disconnect.
            Abort(error);
        }
    }

    private Exception MapError(NbdClientRequest request, int errno, string? message) => NbdErrorMapper.ToException(errno, message, _deviceName,
        request.Command, request.CommandFlags, request.Offset, request.Length, request.SectorSize, _negotiation.Size);

    private NbdProtocolException Violation(string detail) => new(_deviceName, detail);

    /// <summary>NBD_CMD_DISC: a request no reply answers.</summary>
    private sealed class DisconnectMessage(bool extended) : IOutgoingMessage
    {
        public int HeaderLength => NbdRequestHeader.Length(extended);

        public ReadOnlyMemory<byte> Payload => default;

        public void WriteHeader(Span<byte> destination) =>
            NbdRequestHeader.Write(destination, extended, NbdCommandFlags.None, NbdCommand.Disconnect, 0, 0, 0);

        public bool BeginSend() => true;

        public void OnSent(Exception? error)
        {
        }
    }
}
