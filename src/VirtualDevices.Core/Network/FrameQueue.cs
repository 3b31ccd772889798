using System.Threading.Tasks.Sources;

namespace VirtualDevices.Network;

/// <summary>
/// One consumer's bounded queue of received frames: many producers (whatever thread delivers), one reader. A frame that
/// finds it full is refused and counted, never waited for: a device never stalls on its slowest consumer. The reader
/// waits on a reusable awaitable (no allocation per wait); its continuation runs on the thread pool, never on the
/// delivering thread.
/// </summary>
internal sealed class FrameQueue : IValueTaskSource<bool>
{
    private static readonly Action<object?> s_cancelWait = static state => ((FrameQueue)state!).CancelWait();

    private readonly object _lock = new();
    private readonly FrameLease[] _items;
    private int _head;
    private int _count;
    private bool _completed;
    private Exception? _error;
    private long _queued;
    private long _dropped;
    private long _discarded;

    private ManualResetValueTaskSourceCore<bool> _waiter = new() { RunContinuationsAsynchronously = true };
    private bool _waiting;
    private CancellationToken _waitToken;
    private CancellationTokenRegistration _registration;

    public FrameQueue(int capacity, uint holder, FrameDirection directions = FrameDirection.Inbound)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        _items = new FrameLease[capacity];
        Holder = holder;
        Directions = directions;
    }

    /// <summary>The frames this queue takes: received ones (the listener, a plain tap), sent ones, or both.</summary>
    public FrameDirection Directions { get; }

    /// <summary>The bit this queue holds in the frames queued to it.</summary>
    public uint Holder { get; }

    public int Capacity => _items.Length;

    public int Count
    {
        get
        {
            lock (_lock)
            {
                return _count;
            }
        }
    }

    public long Queued => Interlocked.Read(ref _queued);

    public long Dropped => Interlocked.Read(ref _dropped);

    public long Discarded => Interlocked.Read(ref _discarded);

    public FrameQueueResult TryEnqueue(in FrameLease frame)
    {
        CancellationTokenRegistration registration;
        lock (_lock)
        {
            if (_completed)
            {
                return FrameQueueResult.Closed;
            }

            if (_count == _items.Length)
            {
                Interlocked.Increment(ref _dropped);
                return FrameQueueResult.Full;
            }

            int tail = _head + _count;
            _items[tail >= _items.Length ? tail - _items.Length : tail] = frame;
            _count++;
            Interlocked.Increment(ref _queued);
            if (!_waiting)
            {
                return FrameQueueResult.Queued;
            }

            _waiting = false;
            registration = _registration;
            _registration = default;
        }

        registration.Unregister();
        _waiter.SetResult(true);
        return FrameQueueResult.Queued;
    }

    public bool TryRead(out FrameLease frame)
    {
        lock (_lock)
        {
            if (_count == 0)
            {
                frame = default;
                return false;
            }

            frame = _items[_head];
            _items[_head] = default;
            _head = _head + 1 == _items.Length ? 0 : _head + 1;
            _count--;
            return true;
        }
    }

    /// <summary>True when a frame is (probably) ready; false once the queue is completed and empty.</summary>
    public ValueTask<bool> WaitToReadAsync(CancellationToken cancellationToken)
    {
        short version;
        lock (_lock)
        {
            if (_count > 0)
            {
                return new ValueTask<bool>(true);
            }

            if (_completed)
            {
                return _error is null ? new ValueTask<bool>(false) : ValueTask.FromException<bool>(_error);
            }

            if (cancellationToken.IsCancellationRequested)
            {
                return ValueTask.FromCanceled<bool>(cancellationToken);
            }

            if (_waiting)
            {
                throw new InvalidOperationException("A frame reader has one reader at a time.");
            }

            _waiter.Reset();
            version = _waiter.Version;
            _waiting = true;
            _waitToken = cancellationToken;
        }

        if (cancellationToken.CanBeCanceled)
        {
            CancellationTokenRegistration registration = cancellationToken.UnsafeRegister(s_cancelWait, this);
            lock (_lock)
            {
                if (_waiting && _waiter.Version == version)
                {
                    _registration = registration;
                    registration = default;
                }
            }

            registration.Unregister(); // the wait already ended (a frame came, or it was cancelled)
        }

        return new ValueTask<bool>(this, version);
    }

    /// <summary>No more frames will come; the reader gets those queued, then the end (or <paramref name="error"/>).</summary>
    public void Complete(Exception? error = null)
    {
        lock (_lock)
        {
            if (_completed)
            {
                return;
            }

            _completed = true;
            _error = error;
            if (!_waiting)
            {
                return;
            }

            _waiting = false;
            _registration.Unregister();
            _registration = default;
        }

        if (error is null)
        {
            _waiter.SetResult(false);
        }
        else
        {
            _waiter.SetException(error);
        }
    }

    /// <summary>Completes the queue and releases every frame still in it; returns how many there were.</summary>
    public int Discard()
    {
        Complete();
        int discarded = 0;
        while (TryRead(out FrameLease frame))
        {
            frame.Dispose();
            discarded++;
        }

        Interlocked.Add(ref _discarded, discarded);
        return discarded;
    }

    /// <summary>Ends a pending wait with false (its reader is closing) without completing the queue.</summary>
    public void AbandonWait()
    {
        lock (_lock)
        {
            if (!_waiting)
            {
                return;
            }

            _waiting = false;
            _registration.Unregister();
            _registration = default;
        }

        _waiter.SetResult(false);
    }

    bool IValueTaskSource<bool>.GetResult(short token) => _waiter.GetResult(token);

    ValueTaskSourceStatus IValueTaskSource<bool>.GetStatus(short token) => _waiter.GetStatus(token);

    void IValueTaskSource<bool>.OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
        _waiter.OnCompleted(continuation, state, token, flags);

    private void CancelWait()
    {
        CancellationToken token;
        lock (_lock)
        {
            // A late callback of an earlier wait finds another token (not cancelled) and leaves the current wait alone.
            if (!_waiting || !_waitToken.IsCancellationRequested)
            {
                return;
            }

            _waiting = false;
            token = _waitToken;
            _registration = default;
        }

        _waiter.SetException(new OperationCanceledException(token));
    }
}
