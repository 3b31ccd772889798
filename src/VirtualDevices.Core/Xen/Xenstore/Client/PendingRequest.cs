using System.Threading.Tasks.Sources;

namespace VirtualDevices.Xen.Xenstore;

/// <summary>
/// A request waiting for its reply: a reusable value-task source with a buffer the reader copies the reply into.
/// Pooled by the client, so a round trip allocates nothing. Whoever completes it first (the reader with the reply,
/// the cancellation callback, or a disconnect) wins; a cancelled request stays in the pending table until its reply
/// comes or the connection drops, and the reader then returns it to the pool.
/// </summary>
internal sealed class PendingRequest : IValueTaskSource<XenstoreMessageType>
{
    private const int Waiting = 0;
    private const int Completed = 1;
    private const int Cancelled = 2;

    private ManualResetValueTaskSourceCore<XenstoreMessageType> _core;
    private int _state;

    internal PendingRequest(bool runContinuationsAsynchronously)
    {
        _core.RunContinuationsAsynchronously = runContinuationsAsynchronously;
    }

    /// <summary>The reply payload; <see cref="Length"/> bytes are valid.</summary>
    internal byte[] Payload { get; } = new byte[XenstoreLimits.PayloadMax];

    internal int Length { get; private set; }

    internal uint RequestId { get; set; }

    internal CancellationTokenRegistration Registration { get; set; }

    internal bool WasCancelled => Volatile.Read(ref _state) == Cancelled;

    internal ValueTask<XenstoreMessageType> Task => new(this, _core.Version);

    internal void Reset()
    {
        _core.Reset();
        _state = Waiting;
        Length = 0;
        Registration = default;
    }

    /// <summary>Delivers the reply; false if the caller already gave up (the request then belongs to the reader).</summary>
    internal bool TryComplete(XenstoreMessageType type, ReadOnlySpan<byte> payload)
    {
        if (Interlocked.CompareExchange(ref _state, Completed, Waiting) != Waiting)
        {
            return false;
        }

        payload.CopyTo(Payload);
        Length = payload.Length;
        _core.SetResult(type);
        return true;
    }

    /// <summary>Fails the request (disconnect); false if it was already completed or cancelled.</summary>
    internal bool TryFail(Exception error)
    {
        if (Interlocked.CompareExchange(ref _state, Completed, Waiting) != Waiting)
        {
            return false;
        }

        _core.SetException(error);
        return true;
    }

    /// <summary>The cancellation callback: completes the wait with cancellation, leaving the request in the table.</summary>
    internal void Cancel(CancellationToken token)
    {
        if (Interlocked.CompareExchange(ref _state, Cancelled, Waiting) == Waiting)
        {
            _core.SetException(new OperationCanceledException(token));
        }
    }

    XenstoreMessageType IValueTaskSource<XenstoreMessageType>.GetResult(short token) => _core.GetResult(token);

    ValueTaskSourceStatus IValueTaskSource<XenstoreMessageType>.GetStatus(short token) => _core.GetStatus(token);

    void IValueTaskSource<XenstoreMessageType>.OnCompleted(Action<object?> continuation, object? state, short token,
        ValueTaskSourceOnCompletedFlags flags) => _core.OnCompleted(continuation, state, token, flags);
}
