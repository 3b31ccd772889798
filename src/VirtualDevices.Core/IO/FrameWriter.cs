using System.Collections.Concurrent;

namespace VirtualDevices.IO;

/// <summary>
/// Serialises the messages of one connection onto its transport from any number of threads, without a lock per message
/// and without a thread hop for the common case.
/// </summary>
/// <remarks>
/// <para>
/// Producers queue messages; whichever thread finds no one sending becomes the sender and drains the queue, packing
/// consecutive headers and small payloads into one buffer, so that a burst of requests or replies costs one system
/// call, and a request's header leaves on the thread that made it (no wake-up of another thread). Producers that
/// arrive while someone sends just queue: the sender takes their messages before it lets go.
/// </para>
/// <para>
/// Sends block (see <see cref="Transport"/>), and a large payload can block for as long as the peer takes to
/// read it. A producer that must not block (a caller's thread in the client) therefore hands the queue over to the
/// connection's writer thread, started on first need, when the next message has a large payload; small messages
/// only wait for room in the socket buffer, which a peer that reads at all frees promptly.
/// </para>
/// </remarks>
internal sealed class FrameWriter : IDisposable
{
    /// <summary>The largest header a message may have.</summary>
    public const int MaximumHeaderLength = 64;

    private const int BufferSize = 64 * 1024;

    /// <summary>Payloads up to this size are copied into the batch buffer rather than written on their own.</summary>
    private const int CopyThreshold = 16 * 1024;

    private readonly ConcurrentQueue<IOutgoingMessage> _queue = new();
    private readonly List<IOutgoingMessage> _batch = [];
    private readonly SemaphoreSlim _wake = new(0);
    private readonly Action<Exception> _onFailure;
    private readonly Transport _transport;
    private readonly string _threadName;

    // Not pooled: a sender blocked in a send may still hold it when the connection is torn down.
    private readonly byte[] _buffer = new byte[BufferSize];
    private Exception? _failure;
    private IOutgoingMessage? _carried;
    private IOutgoingMessage? _inHand;
    private Thread? _thread;
    private int _owner;
    private bool _handedOver;
    private bool _exit;

    /// <param name="transport">The connection's transport (a socket, or TLS over one as a <see cref="StreamTransport"/>).</param>
    /// <param name="threadName">The writer thread's name, should one be needed.</param>
    /// <param name="onFailure">Told once when a write fails, so that the connection is torn down.</param>
    public FrameWriter(Transport transport, string threadName, Action<Exception> onFailure)
    {
        _transport = transport;
        _threadName = threadName;
        _onFailure = onFailure;
    }

    /// <summary>Queues a message and sends it now, unless another thread is sending (which then sends it).</summary>
    /// <param name="message">The message.</param>
    /// <param name="mayBlock">
    /// False on a thread that must not wait for the peer: large payloads are then handed to the writer thread.
    /// </param>
    public void Enqueue(IOutgoingMessage message, bool mayBlock)
    {
        _queue.Enqueue(message);
        Pump(mayBlock);
    }

    /// <summary>
    /// Sends everything queued so far (on this thread if no one else is sending), waits at most
    /// <paramref name="timeout"/> for it to leave, then refuses further messages.
    /// </summary>
    public async ValueTask DrainAndStopAsync(TimeSpan timeout)
    {
        Pump(mayBlock: true);
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while ((Volatile.Read(ref _owner) != 0 || !_queue.IsEmpty) && Volatile.Read(ref _failure) is null && clock.Elapsed < timeout)
        {
            await Task.Delay(1).ConfigureAwait(false);
        }

        Fail(new ObjectDisposedException(nameof(FrameWriter)));
    }

    /// <summary>Fails every queued message and every later one (the connection is known dead).</summary>
    public void Fail(Exception error)
    {
        Interlocked.CompareExchange(ref _failure, error, null);

        // Only the sender dequeues; if one is at work it fails the rest itself when its send returns.
        Pump(mayBlock: true);
        Exit();
    }

    /// <summary>Fails what is queued and ends the writer thread.</summary>
    public void Dispose() => Fail(new ObjectDisposedException(nameof(FrameWriter)));

    /// <summary>Becomes the sender if no one is, and sends until the queue is empty (or hands it over).</summary>
    private void Pump(bool mayBlock)
    {
        if (Interlocked.CompareExchange(ref _owner, 1, 0) == 0 && !Drain(mayBlock))
        {
            LetGo(mayBlock);
        }
    }

    /// <summary>
    /// The owner lets go; if a producer queued meanwhile (and, seeing the owner busy, left its message to it), takes
    /// the queue back and sends that too.
    /// </summary>
    private void LetGo(bool mayBlock)
    {
        while (true)
        {
            // A full fence: a producer that queued after the last dequeue and saw the owner busy is seen below.
            Interlocked.Exchange(ref _owner, 0);
            if (_queue.IsEmpty || Interlocked.CompareExchange(ref _owner, 1, 0) != 0 || Drain(mayBlock))
            {
                return;
            }
        }
    }

    /// <summary>The owner's work; true when the queue was handed to the writer thread (which now owns it).</summary>
    private bool Drain(bool mayBlock)
    {
        try
        {
            return DrainCore(mayBlock);
        }
        catch (Exception e)
        {
            bool first = Interlocked.CompareExchange(ref _failure, e, null) is null;
            FailBatchAndQueue(Volatile.Read(ref _failure)!);
            if (first)
            {
                _onFailure(e);
            }

            return false;
        }
    }

    private bool DrainCore(bool mayBlock)
    {
        int used = 0;
        while (TakeNext() is { } message)
        {
            // Tracked until it joins the batch, so that a failing send fails it too.
            _inHand = message;
            if (Volatile.Read(ref _failure) is { } failure)
            {
                FailBatchAndQueue(failure);
                return false;
            }

            ReadOnlyMemory<byte> payload = message.Payload;
            if (!mayBlock && payload.Length > CopyThreshold)
            {
                // The message goes first when the writer thread takes over (or is failed below if it is stopping).
                _inHand = null;
                _carried = message;
                Flush(used);
                used = 0;
                if (HandOver())
                {
                    return true;
                }

                continue;
            }

            if (!message.BeginSend())
            {
                _inHand = null;
                message.OnSent(null);
                continue;
            }

            // Room for the header and a small payload together: a flush between them would report the message sent
            // before its payload left.
            int headerLength = message.HeaderLength;
            bool copied = payload.Length <= CopyThreshold;
            if (BufferSize - used < headerLength + (copied ? payload.Length : 0))
            {
                Flush(used);
                used = 0;
            }

            message.WriteHeader(_buffer.AsSpan(used, headerLength));
            used += headerLength;
            _batch.Add(message);
            _inHand = null;
            if (payload.IsEmpty)
            {
                continue;
            }

            if (copied)
            {
                payload.Span.CopyTo(_buffer.AsSpan(used));
                used += payload.Length;
                continue;
            }

            if (used > 0)
            {
                // The headers so far and a large payload in one gathered send: one system call, not two.
                _transport.SendGathered(_buffer.AsMemory(0, used), payload);
            }
            else
            {
                _transport.Send(payload.Span);
            }

            // Written: the producer may reuse the payload now; completing early keeps the pipeline full.
            used = 0;
            Flush(0);
        }

        if (used > 0 || _batch.Count > 0)
        {
            Flush(used);
        }

        return false;
    }

    /// <summary>
    /// The next message: one taken but left for the writer thread first, then the queue's head. (Not TryPeek: a
    /// peeked segment of a ConcurrentQueue is never reused, which would allocate a segment every few messages.)
    /// </summary>
    private IOutgoingMessage? TakeNext()
    {
        if (_carried is { } carried)
        {
            _carried = null;
            return carried;
        }

        return _queue.TryDequeue(out IOutgoingMessage? message) ? message : null;
    }

    private void Flush(int used)
    {
        if (used > 0)
        {
            _transport.Send(_buffer.AsSpan(0, used));
        }

        foreach (IOutgoingMessage message in _batch)
        {
            message.OnSent(null);
        }

        _batch.Clear();
    }

    private void FailBatchAndQueue(Exception error)
    {
        foreach (IOutgoingMessage message in _batch)
        {
            message.OnSent(error);
        }

        _batch.Clear();
        if (_inHand is { } inHand)
        {
            _inHand = null;
            inHand.OnSent(error);
        }

        while (TakeNext() is { } message)
        {
            message.OnSent(error);
        }
    }

    /// <summary>
    /// Passes the ownership of the queue to the writer thread, starting it on first use; false once the writer is
    /// stopping (the thread may be gone).
    /// </summary>
    private bool HandOver()
    {
        lock (_wake)
        {
            if (_exit)
            {
                return false;
            }

            if (_thread is null)
            {
                _thread = new Thread(static state => ((FrameWriter)state!).WriterLoop()) { IsBackground = true, Name = _threadName };
                _thread.UnsafeStart(this);
            }

            _handedOver = true;
        }

        _wake.Release();
        return true;
    }

    /// <summary>Tells the writer thread to end once it has nothing handed over.</summary>
    private void Exit()
    {
        lock (_wake)
        {
            if (_exit)
            {
                return;
            }

            _exit = true;
        }

        _wake.Release();
    }

    private void WriterLoop()
    {
        while (true)
        {
            _wake.Wait();
            lock (_wake)
            {
                if (!_handedOver)
                {
                    if (_exit)
                    {
                        return;
                    }

                    continue;
                }

                _handedOver = false;
            }

            // Owned on arrival: drain, then let go like any other sender.
            Drain(mayBlock: true);
            LetGo(mayBlock: true);
        }
    }
}
