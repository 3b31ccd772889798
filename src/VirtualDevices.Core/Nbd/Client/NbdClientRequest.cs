using System.Threading.Tasks.Sources;
using VirtualDevices.Block;
using VirtualDevices.Nbd.Protocol;

namespace VirtualDevices.Nbd.Client;

/// <summary>
/// One request in flight on a connection, pooled and reused: it is the message the writer sends, the slot the reader
/// matches replies to by cookie, and the awaitable the caller waits on (so a request allocates nothing).
/// </summary>
/// <remarks>
/// Three parties hold it: the caller (until it has the result), the writer (until the request is on the wire), and
/// the connection's table (until the final reply, or the connection's death). It returns to the pool when all three
/// let go. The caller is completed only once the request is both sent and answered, so a buffer handed back to the
/// caller is never still being read by the writer or filled by the reader. Cancellation before sending drops the
/// request; after sending it completes the caller at once and the late reply is discarded.
/// </remarks>
internal sealed class NbdClientRequest : IValueTaskSource<int>, IValueTaskSource, INbdOutgoing
{
    private const int ReceiveIdle = 0;
    private const int ReceiveBusy = 1;
    private const int ReceiveCancelled = 2;

    private static readonly Action<object?> s_onCancel = static state => ((NbdClientRequest)state!).OnCancel();

    private readonly NbdClientConnection _connection;
    private ManualResetValueTaskSourceCore<int> _core;
    private CancellationTokenRegistration _registration;
    private CancellationToken _cancellationToken;
    private int _references;
    private int _events;
    private int _completed;
    private int _inTable;
    private int _receiving;
    private int _cancelRequested;
    private int _sent;
    private List<(long Start, long End)>? _ranges;

    public NbdClientRequest(NbdClientConnection connection, int index)
    {
        _connection = connection;
        Index = index;
    }

    public int Index { get; }

    public uint Generation { get; private set; }

    public NbdClientRequest? NextFree { get; set; }

    public ulong Cookie => ((ulong)Generation << 32) | (uint)Index;

    public short Version => _core.Version;

    public NbdCommand Command { get; private set; }

    public NbdCommandFlags CommandFlags { get; private set; }

    public long Offset { get; private set; }

    public long Length { get; private set; }

    public Memory<byte> ReadBuffer { get; private set; }

    public Memory<BlockExtent> Extents { get; private set; }

    public int SectorSize { get; private set; }

    public long Deadline { get; private set; }

    public bool IsInTable => Volatile.Read(ref _inTable) != 0;

    // Reply state, touched only by the connection's reader.
    public Exception? ReplyError { get; set; }

    public int ExtentCount { get; set; }

    public bool GotStatus { get; set; }

    public long Covered { get; private set; }

    private ReadOnlyMemory<byte> _payload;
    private long _nextExpected;

    public void Prepare(NbdCommand command, NbdCommandFlags flags, long offset, long length, Memory<byte> readBuffer, ReadOnlyMemory<byte> payload,
        Memory<BlockExtent> extents, int sectorSize, long deadline, bool inline)
    {
        // The core was reset when the request last went back to the pool: its scheduling may change per use.
        _core.RunContinuationsAsynchronously = !inline;
        Command = command;
        CommandFlags = flags;
        Offset = offset;
        Length = length;
        ReadBuffer = readBuffer;
        _payload = payload;
        Extents = extents;
        SectorSize = sectorSize;
        Deadline = deadline;
        ReplyError = null;
        ExtentCount = 0;
        GotStatus = false;
        Covered = 0;
        _nextExpected = 0;
        _ranges?.Clear();
        _references = 3;
        _events = 2;
        _completed = 0;
        _receiving = ReceiveIdle;
        _cancelRequested = 0;
        _sent = 0;
        Volatile.Write(ref _inTable, 1);
    }

    public void RegisterCancellation(CancellationToken cancellationToken)
    {
        _cancellationToken = cancellationToken;
        if (cancellationToken.CanBeCanceled)
        {
            _registration = cancellationToken.UnsafeRegister(s_onCancel, this);
        }
    }

    /// <summary>Reader: claims the caller's buffer for one chunk; false when the caller has gone (discard the data).</summary>
    public bool BeginReceive() => Interlocked.CompareExchange(ref _receiving, ReceiveBusy, ReceiveIdle) == ReceiveIdle;

    /// <summary>Reader: releases the buffer claimed by <see cref="BeginReceive"/>.</summary>
    public void EndReceive()
    {
        Interlocked.CompareExchange(ref _receiving, ReceiveIdle, ReceiveBusy);
        if (Volatile.Read(ref _cancelRequested) != 0 && Volatile.Read(ref _sent) != 0)
        {
            TryCancel();
        }
    }

    /// <summary>
    /// Reader: records that bytes [<paramref name="start"/>, +<paramref name="length"/>) of a read arrived; false if
    /// they overlap bytes that already did (a server may not send the same bytes twice).
    /// </summary>
    public bool Cover(long start, long length)
    {
        if (start == _nextExpected && _ranges is not { Count: > 0 })
        {
            _nextExpected = start + length;
            Covered += length;
            return true;
        }

        // Out of order: fall back to an explicit list of ranges (rare; servers send chunks in order).
        _ranges ??= [];
        if (_ranges.Count == 0 && _nextExpected > 0)
        {
            _ranges.Add((0, _nextExpected));
        }

        long end = start + length;
        foreach ((long s, long e) in _ranges)
        {
            if (start < e && s < end)
            {
                return false;
            }
        }

        _ranges.Add((start, end));
        Covered += length;
        return true;
    }

    /// <summary>Reader or teardown: the reply is complete (or will never come).</summary>
    public void OnReplied()
    {
        if (Interlocked.Decrement(ref _events) == 0)
        {
            TryComplete(ReplyError);
        }
    }

    /// <summary>Completes the caller at once with an error, whatever else is pending.</summary>
    public void Fail(Exception error) => TryComplete(error);

    /// <summary>Removes the request from the connection's table; true for the one caller that did.</summary>
    public bool LeaveTable()
    {
        if (Interlocked.Exchange(ref _inTable, 0) == 0)
        {
            return false;
        }

        Release();
        return true;
    }

    int INbdOutgoing.HeaderLength => NbdRequestHeader.Length(_connection.ExtendedHeaders);

    ReadOnlyMemory<byte> INbdOutgoing.Payload => Command == NbdCommand.Write ? _payload : default;

    void INbdOutgoing.WriteHeader(Span<byte> destination) =>
        NbdRequestHeader.Write(destination, _connection.ExtendedHeaders, CommandFlags, Command, Cookie, Offset, Length);

    bool INbdOutgoing.BeginSend()
    {
        if (Volatile.Read(ref _cancelRequested) == 0)
        {
            return true;
        }

        // Cancelled while queued: it never reaches the server, so no reply will come.
        TryComplete(new OperationCanceledException(_cancellationToken));
        _connection.RequestLeft(this);
        return false;
    }

    void INbdOutgoing.OnSent(Exception? error)
    {
        if (error is null)
        {
            Volatile.Write(ref _sent, 1);
            if (Volatile.Read(ref _cancelRequested) != 0)
            {
                TryCancel();
            }

            if (Interlocked.Decrement(ref _events) == 0)
            {
                TryComplete(ReplyError);
            }
        }
        else
        {
            // The connection is dying; its teardown completes the caller with the reason.
            _connection.Abort(error);
        }

        Release();
    }

    int IValueTaskSource<int>.GetResult(short token)
    {
        try
        {
            return _core.GetResult(token);
        }
        finally
        {
            Release();
        }
    }

    void IValueTaskSource.GetResult(short token)
    {
        try
        {
            _core.GetResult(token);
        }
        finally
        {
            Release();
        }
    }

    ValueTaskSourceStatus IValueTaskSource<int>.GetStatus(short token) => _core.GetStatus(token);

    ValueTaskSourceStatus IValueTaskSource.GetStatus(short token) => _core.GetStatus(token);

    void IValueTaskSource<int>.OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
        _core.OnCompleted(continuation, state, token, flags);

    void IValueTaskSource.OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
        _core.OnCompleted(continuation, state, token, flags);

    private void OnCancel()
    {
        Volatile.Write(ref _cancelRequested, 1);
        if (Volatile.Read(ref _sent) != 0)
        {
            TryCancel();
        }
    }

    private void TryCancel()
    {
        if (Interlocked.CompareExchange(ref _receiving, ReceiveCancelled, ReceiveIdle) == ReceiveIdle)
        {
            TryComplete(new OperationCanceledException(_cancellationToken));
        }
    }

    private void TryComplete(Exception? error)
    {
        if (Interlocked.Exchange(ref _completed, 1) != 0)
        {
            return;
        }

        _registration.Unregister();
        if (error is null)
        {
            _core.SetResult(ExtentCount);
        }
        else
        {
            _core.SetException(error);
        }
    }

    private void Release()
    {
        if (Interlocked.Decrement(ref _references) != 0)
        {
            return;
        }

        _registration.Dispose();
        _registration = default;
        _cancellationToken = default;
        ReadBuffer = default;
        _payload = default;
        Extents = default;
        ReplyError = null;
        _core.Reset();
        Generation++;
        _connection.Return(this);
    }
}
