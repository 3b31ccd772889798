using System.Threading.Tasks.Sources;

namespace VirtualDevices.IO;

/// <summary>
/// A request in flight, pooled by a <see cref="RequestTable{TRequest}"/> and reused: it is the slot the reader
/// matches replies to by id, the message the sender sends, and the awaitable the caller waits on, so a request
/// allocates nothing. A protocol derives from it and adds its request's fields and reply state.
/// </summary>
/// <remarks>
/// <para>
/// The caller is completed only once the request is both sent (<see cref="OnSent"/>) and answered
/// (<see cref="OnReplied"/>), so a buffer handed back to the caller is never still being read by the sender or filled
/// by the reader.
/// </para>
/// <para>
/// Cancellation before sending drops the request (<see cref="BeginSend"/> returns false and it leaves the table: it
/// never reached the peer, so no reply will come). After sending it completes the caller at once, unless the reader
/// is writing into the caller's buffer (<see cref="BeginReceive"/>), in which case the caller is completed when the
/// reader lets go; the late reply still finds the request in the table and is discarded.
/// </para>
/// </remarks>
/// <typeparam name="TResult">What the caller receives (an extent count, a parsed reply).</typeparam>
internal abstract class PooledRequest<TResult> : RequestSlot, IValueTaskSource<TResult>, IValueTaskSource
{
    private const int ReceiveIdle = 0;
    private const int ReceiveBusy = 1;
    private const int ReceiveCancelled = 2;

    private static readonly Action<object?> s_onCancel = static state => ((PooledRequest<TResult>)state!).OnCancel();

    private ManualResetValueTaskSourceCore<TResult> _core;
    private CancellationTokenRegistration _registration;
    private CancellationToken _cancellationToken;
    private int _events;
    private int _completed;
    private int _receiving;
    private int _cancelRequested;
    private int _sent;

    /// <summary>The awaitable's version for this use: pass it with the request to <see cref="ValueTask{TResult}"/>.</summary>
    public short Version => _core.Version;

    /// <summary>The error the reply carried (set by the reader before <see cref="OnReplied"/>); null for success.</summary>
    public Exception? ReplyError { get; set; }

    /// <summary>The result the reply carried (set by the reader before <see cref="OnReplied"/>).</summary>
    public TResult? ReplyResult { get; set; }

    /// <summary>The awaitable for a caller that wants the result.</summary>
    public ValueTask<TResult> AsValueTask() => new(this, _core.Version);

    /// <summary>The awaitable for a caller that wants completion only.</summary>
    public ValueTask AsResultlessValueTask() => new(this, _core.Version);

    /// <summary>
    /// Starts a use of the request, after the derived class set its fields: arms the three parties and puts the
    /// request in its table (where the reader and a timeout scan can see it from now on).
    /// </summary>
    /// <param name="runContinuationsAsynchronously">
    /// False to run the caller's continuation where the request completes (usually the reading thread).
    /// </param>
    protected void Begin(bool runContinuationsAsynchronously)
    {
        // The core was reset when the request last went back to the pool: its scheduling may change per use.
        _core.RunContinuationsAsynchronously = runContinuationsAsynchronously;
        ReplyError = null;
        ReplyResult = default;
        _events = 2;
        _completed = 0;
        _receiving = ReceiveIdle;
        _cancelRequested = 0;
        _sent = 0;
        Arm();
    }

    /// <summary>Registers the caller's cancellation (after <see cref="Begin"/>).</summary>
    public void RegisterCancellation(CancellationToken cancellationToken)
    {
        _cancellationToken = cancellationToken;
        if (cancellationToken.CanBeCanceled)
        {
            _registration = cancellationToken.UnsafeRegister(s_onCancel, this);
        }
    }

    /// <summary>Reader: claims the caller's buffer for one piece of reply; false when the caller has gone (discard the data).</summary>
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

    /// <summary>Reader or teardown: the reply is complete (or will never come).</summary>
    public void OnReplied()
    {
        if (Interlocked.Decrement(ref _events) == 0)
        {
            CompleteWithReply();
        }
    }

    /// <summary>
    /// Reader: the final reply of a request found by <see cref="RequestTable{TRequest}.Lookup"/> (one message, parsed
    /// from a span: xenstore's replies, a ring's responses). Stores the result unless the caller has gone, completes
    /// the caller once the request was also sent, and takes the request out of the table.
    /// </summary>
    /// <param name="result">The parsed result (ignored when <paramref name="error"/> is set).</param>
    /// <param name="error">The error the reply carried, or null.</param>
    public void Reply(TResult result, Exception? error = null)
    {
        if (BeginReceive())
        {
            ReplyResult = result;
            ReplyError = error;
            EndReceive();
        }

        OnReplied();
        LeaveTable();
    }

    /// <summary>Completes the caller at once with an error, whatever else is pending.</summary>
    public void Fail(Exception error) => TryComplete(error);

    /// <summary>
    /// Sender: called once, just before the request is serialised; false to drop it (cancelled while queued: it
    /// leaves the table and its caller gets the cancellation). Either way <see cref="OnSent"/> follows.
    /// </summary>
    public bool BeginSend()
    {
        if (Volatile.Read(ref _cancelRequested) == 0)
        {
            return true;
        }

        TryComplete(new OperationCanceledException(_cancellationToken));
        LeaveTable();
        return false;
    }

    /// <summary>
    /// Sender: called exactly once per use, after the request reached the transport (or ring), was dropped, or could
    /// not be sent; drops the sender's reference.
    /// </summary>
    /// <param name="error">Null when the request left; otherwise the failure, given to <see cref="OnSendFailed"/>.</param>
    public void OnSent(Exception? error)
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
                CompleteWithReply();
            }
        }
        else
        {
            OnSendFailed(error);
        }

        Release();
    }

    /// <summary>
    /// The request could not be sent: the transport is dying. The default fails the caller at once; a connection
    /// usually tears down instead, and its teardown fails every request with the reason.
    /// </summary>
    protected virtual void OnSendFailed(Exception error)
    {
        TryComplete(error);
        LeaveTable();
    }

    /// <summary>Clears the derived class's per-use state (buffers it must not keep alive) before pooling.</summary>
    protected virtual void Clear()
    {
    }

    TResult IValueTaskSource<TResult>.GetResult(short token)
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

    ValueTaskSourceStatus IValueTaskSource<TResult>.GetStatus(short token) => _core.GetStatus(token);

    ValueTaskSourceStatus IValueTaskSource.GetStatus(short token) => _core.GetStatus(token);

    void IValueTaskSource<TResult>.OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
        _core.OnCompleted(continuation, state, token, flags);

    void IValueTaskSource.OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
        _core.OnCompleted(continuation, state, token, flags);

    /// <inheritdoc/>
    internal override void FailFromTable(Exception reason) => TryComplete(reason);

    private protected override void Reset()
    {
        _registration.Dispose();
        _registration = default;
        _cancellationToken = default;
        ReplyError = null;
        ReplyResult = default;
        Clear();
        _core.Reset();
    }

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

    /// <summary>
    /// The last of sender and reader completes the caller with what the reply carried, unless a cancellation took the
    /// caller's buffer first (<see cref="TryCancel"/> moved the receive state to cancelled): then the reader discarded
    /// the reply (<see cref="BeginReceive"/> said no), <see cref="ReplyResult"/> is empty, and the caller must get the
    /// cancellation, whichever thread gets here first. Without this check the cancelling thread could be overtaken
    /// between its state change and its completion, and the caller got a success with an empty result (a xenstore
    /// read returned null, an NBD read a buffer never filled).
    /// </summary>
    private void CompleteWithReply()
    {
        if (Volatile.Read(ref _receiving) == ReceiveCancelled)
        {
            TryComplete(new OperationCanceledException(_cancellationToken));
            return;
        }

        TryComplete(ReplyError);
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
            _core.SetResult(ReplyResult!);
        }
        else
        {
            _core.SetException(error);
        }
    }
}
