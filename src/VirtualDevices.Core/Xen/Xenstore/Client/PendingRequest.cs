using System.Text;
using System.Threading.Tasks.Sources;
using VirtualDevices.Xen.Xenstore.Protocol;

namespace VirtualDevices.Xen.Xenstore.Client;

/// <summary>
/// A request in flight: the outgoing message (built in place, so sending copies nothing) and the state that decides
/// who completes it. The state packs the request id with a status, so every transition is a compare-and-swap on
/// (id, status): a reply, a cancellation or a disconnect that comes late for an earlier use of this recycled object
/// cannot touch the current one. The one that moves the state out of <see cref="Waiting"/> owns the completion;
/// the one that moves it to <see cref="Claimed"/> or <see cref="Dead"/> also removes it from the client's table.
/// </summary>
internal abstract class PendingRequest
{
    internal const int Waiting = 0;
    internal const int Claimed = 1;
    internal const int Cancelled = 2;
    internal const int Dead = 3;

    private long _state = Dead;

    /// <summary>Header and payload of the outgoing message; <see cref="MessageLength"/> bytes are valid.</summary>
    internal byte[] Message { get; } = new byte[XenstoreLimits.HeaderSize + XenstoreLimits.PayloadMax];

    internal int MessageLength { get; set; }

    internal XenstoreMessageType Type { get; set; }

    internal string? Path { get; set; }

    internal CancellationTokenRegistration Registration { get; set; }

    /// <summary>The id of the current use.</summary>
    internal uint RequestId => (uint)(Volatile.Read(ref _state) >> 2);

    internal int Status => (int)(Volatile.Read(ref _state) & 3);

    /// <summary>Starts a use under <paramref name="id"/> (before the request is published in the table).</summary>
    internal void Arm(uint id) => Volatile.Write(ref _state, Pack(id, Waiting));

    /// <summary>Takes the request to deliver its reply or failure; false if it was cancelled or is no longer <paramref name="id"/>.</summary>
    internal bool TryClaim(uint id) => Transition(id, Waiting, Claimed);

    /// <summary>Retires a cancelled request so that its table entry can be removed; only one party succeeds.</summary>
    internal bool TryBury(uint id) => Transition(id, Cancelled, Dead);

    /// <summary>Marks the current use cancelled; false when it is already claimed.</summary>
    private protected bool TryCancel(uint id) => Transition(id, Waiting, Cancelled);

    private bool Transition(uint id, int from, int to) =>
        Interlocked.CompareExchange(ref _state, Pack(id, to), Pack(id, from)) == Pack(id, from);

    private static long Pack(uint id, int status) => ((long)id << 2) | (uint)status;

    /// <summary>Delivers a reply (after <see cref="TryClaim"/>): parses it into the result or the error.</summary>
    internal abstract void Complete(XenstoreMessageType type, ReadOnlySpan<byte> payload);

    /// <summary>Fails the request (after <see cref="TryClaim"/>).</summary>
    internal abstract void Fail(Exception error);

    /// <summary>The cancellation callback: completes the wait with cancellation, leaving the request in the table.</summary>
    internal abstract void Cancel(CancellationToken token);

    /// <summary>True if <paramref name="payload"/> is the error name <paramref name="name"/> (with or without its nul).</summary>
    private protected static bool IsErrorName(ReadOnlySpan<byte> payload, string name)
    {
        int nul = payload.IndexOf((byte)0);
        ReadOnlySpan<byte> text = nul < 0 ? payload : payload[..nul];
        if (text.Length != name.Length)
        {
            return false;
        }

        for (int i = 0; i < text.Length; i++)
        {
            if (text[i] != name[i])
            {
                return false;
            }
        }

        return true;
    }

    private protected static string ErrorText(ReadOnlySpan<byte> payload)
    {
        int nul = payload.IndexOf((byte)0);
        return Encoding.UTF8.GetString(nul < 0 ? payload : payload[..nul]);
    }
}

/// <summary>Parses a reply payload into a request's result (on the reader thread, straight from its buffer).</summary>
internal delegate T ReplyParser<T>(ReadOnlySpan<byte> payload);

/// <summary>
/// A request whose awaiter receives <typeparamref name="T"/>: the value-task source handed to the caller, so a round
/// trip has no async state machine of its own, and the reply is parsed once, where it lies in the reader's buffer.
/// Recycled through a per-thread cache when the result is taken; a cancelled request is recycled only if its
/// caller retires it (otherwise the reader drops it when the late reply comes).
/// </summary>
internal sealed class PendingRequest<T> : PendingRequest, IValueTaskSource<T>, IValueTaskSource
{
    private const int SharedPoolSize = 32;

    [ThreadStatic]
    private static PendingRequest<T>? t_cached;

    /// <summary>Behind the per-thread cache: requests recycled on threads whose cache was full (continuations on the
    /// thread pool finish on other threads than they started), so a round trip still allocates nothing.</summary>
    private static readonly Stack<PendingRequest<T>> s_shared = new();

    private ManualResetValueTaskSourceCore<T> _core;
    private ReplyParser<T>? _parser;
    private string? _defaultOnError;
    private ClientRequestTable? _table;

    internal static PendingRequest<T> Rent(ClientRequestTable table, bool runContinuationsAsynchronously, XenstoreMessageType type,
        string? path, ReplyParser<T> parser, string? defaultOnError)
    {
        PendingRequest<T>? request = t_cached;
        t_cached = null;
        if (request is null)
        {
            lock (s_shared)
            {
                s_shared.TryPop(out request);
            }

            request ??= new PendingRequest<T>();
        }

        request._core.RunContinuationsAsynchronously = runContinuationsAsynchronously;
        request._table = table;
        request._parser = parser;
        request._defaultOnError = defaultOnError;
        request.Type = type;
        request.Path = path;
        return request;
    }

    /// <summary>Puts an unused or finished request back in this thread's cache.</summary>
    internal void Recycle()
    {
        _core.Reset();
        _table = null;
        _parser = null;
        _defaultOnError = null;
        Path = null;
        Registration = default;
        if (t_cached is null)
        {
            t_cached = this;
            return;
        }

        lock (s_shared)
        {
            if (s_shared.Count < SharedPoolSize)
            {
                s_shared.Push(this);
            }
        }
    }

    internal short Version => _core.Version;

    internal ValueTask<T> AsValueTask() => new(this, _core.Version);

    internal ValueTask AsVoidValueTask() => new(this, _core.Version);

    internal override void Complete(XenstoreMessageType type, ReadOnlySpan<byte> payload)
    {
        T result;
        try
        {
            if (type == XenstoreMessageType.Error)
            {
                if (_defaultOnError is { } expected && IsErrorName(payload, expected))
                {
                    result = default!;
                }
                else
                {
                    _core.SetException(XenstoreException.FromReply(ErrorText(payload), Type, Path));
                    return;
                }
            }
            else if (type != Type)
            {
                _core.SetException(new XenstoreException("EIO", $"xenstore answered a {Type} request with {type}.", Path));
                return;
            }
            else
            {
                result = _parser!(payload);
            }
        }
        catch (Exception e)
        {
            _core.SetException(e);
            return;
        }

        _core.SetResult(result);
    }

    internal override void Fail(Exception error) => _core.SetException(error);

    /// <summary>The cancellation callback: completes the wait with cancellation, leaving the request in the table.</summary>
    internal override void Cancel(CancellationToken token)
    {
        if (TryCancel(RequestId))
        {
            _core.SetException(new OperationCanceledException(token));
        }
    }

    public T GetResult(short token)
    {
        bool recycle = true;
        try
        {
            return _core.GetResult(token);
        }
        finally
        {
            Registration.Dispose();
            if (Status == Cancelled)
            {
                // Reuse the request only if its late reply can no longer reach it.
                recycle = _table!.TryRetire(this);
            }

            if (recycle)
            {
                Recycle();
            }
        }
    }

    void IValueTaskSource.GetResult(short token) => GetResult(token);

    public ValueTaskSourceStatus GetStatus(short token) => _core.GetStatus(token);

    public void OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
        _core.OnCompleted(continuation, state, token, flags);
}
