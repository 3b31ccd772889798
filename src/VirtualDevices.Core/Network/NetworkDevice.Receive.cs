using VirtualDevices.IO.Buffers;

namespace VirtualDevices.Network;

/// <summary>The receive side: the pool, the listener's queue, taps, and the fan-out of each frame to them.</summary>
public abstract partial class NetworkDevice
{
    /// <summary>Frames a consumer's queue holds unless told otherwise.</summary>
    public const int DefaultQueueLength = 256;

    /// <summary>Taps a device can have at once, beside its listener (one holder bit each in a frame's 32-bit word).</summary>
    public const int MaxTaps = 30;

    private const uint ListenerHolder = 1;

    private readonly PageBufferPool _pool;
    private readonly bool _ownsPool;
    private readonly FrameQueue _receiveQueue;
    private readonly object _consumersLock = new();
    private readonly Stack<ReceivedFrame> _spareFrames = new();
    private FrameQueue[] _consumers;
    private FrameReader? _listener;
    private int _outboundTaps; // taps that take sent frames; read without the lock on every send

    /// <summary>Frames the listener's queue holds.</summary>
    public int ReceiveQueueLength => _receiveQueue.Capacity;

    /// <summary>The pool received frames are put in.</summary>
    protected PageBufferPool ReceivePool => _pool;

    /// <inheritdoc/>
    public FrameReader OpenListener()
    {
        ThrowIfDisconnected();
        lock (_consumersLock)
        {
            if (_listener is not null)
            {
                throw new DeviceException(DeviceErrorIds.Network.ListenerActive, DeviceErrorCategory.InvalidOperation,
                    $"Device '{Name}' already has a listener; stop it first.", Name);
            }

            _listener = new FrameReader(this, _receiveQueue, isListener: true);
            return _listener;
        }
    }

    /// <inheritdoc/>
    public FrameReader OpenTap(int capacity = DefaultQueueLength) => OpenTap(capacity, FrameDirection.Inbound);

    /// <summary>
    /// Opens a tap that sees the frames the device receives, those it sends, or both (a capture's view of a link).
    /// A sent frame is copied once into a page of the device's pool when it is handed to the driver (before the driver
    /// sends it, as Linux's packet sockets see outgoing frames), and only while such a tap is open; a frame that
    /// finds no free page or a full queue is counted in <c>TapDrops</c>.
    /// </summary>
    /// <param name="capacity">Frames its queue holds.</param>
    /// <param name="directions">Inbound, Outbound or Both.</param>
    /// <exception cref="DeviceDisconnectedException">The device is disconnected.</exception>
    /// <exception cref="DeviceException"><c>NetworkTapLimit</c>: too many taps.</exception>
    public FrameReader OpenTap(int capacity, FrameDirection directions)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        if (directions == FrameDirection.Unknown || (directions & ~FrameDirection.Both) != 0)
        {
            throw new ArgumentOutOfRangeException(nameof(directions), directions, "A tap sees Inbound, Outbound or Both.");
        }

        ThrowIfDisconnected();
        lock (_consumersLock)
        {
            uint used = 0;
            foreach (FrameQueue consumer in _consumers)
            {
                used |= consumer.Holder;
            }

            // Bits 1..30: bit 0 is the listener's, bit 31 the device's own while it delivers.
            uint free = ~used & ~ReceivedFrame.DelivererBit & ~ListenerHolder;
            if (free == 0)
            {
                throw new DeviceException(DeviceErrorIds.Network.TapLimit, DeviceErrorCategory.LimitsExceeded,
                    $"Device '{Name}' already has {MaxTaps} taps; close one first.", Name);
            }

            var queue = new FrameQueue(capacity, free & (uint)-(int)free, directions);
            _consumers = [.. _consumers, queue];
            if ((directions & FrameDirection.Outbound) != 0)
            {
                _outboundTaps++;
            }

            if (!IsConnected)
            {
                queue.Complete(); // disconnected meanwhile: CompleteConsumers may have missed this one
            }

            return new FrameReader(this, queue, isListener: false);
        }
    }

    /// <inheritdoc/>
    public async ValueTask ListenAsync(FrameHandler handler, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(handler);
        using FrameReader listener = OpenListener();
        while (await listener.WaitToReadAsync(cancellationToken).ConfigureAwait(false))
        {
            while (listener.TryRead(out FrameLease frame))
            {
                try
                {
                    await handler(frame.Data, cancellationToken).ConfigureAwait(false);
                }
                finally
                {
                    frame.Dispose();
                }
            }
        }

        cancellationToken.ThrowIfCancellationRequested();
    }

    /// <summary>
    /// Leases a page buffer (of at least <see cref="MaxFrameSize"/> bytes) to receive a frame into. When the pool is
    /// exhausted (consumers hold every page) returns false and counts the frame as dropped for want of a buffer: the
    /// driver then discards the frame.
    /// </summary>
    /// <param name="buffer">The buffer; give it to <see cref="Deliver"/>, or dispose it.</param>
    protected bool TryRentFrameBuffer(out PageLease buffer)
    {
        try
        {
            if (_pool.TryRent(out buffer))
            {
                return true;
            }
        }
        catch (ObjectDisposedException)
        {
            buffer = default; // the device is being disposed: the frame arrives too late to count
            return false;
        }

        _counters.ReceiveNoBuffer();
        return false;
    }

    /// <summary>
    /// Hands a received frame to the consumers without copying it: each gets a lease on the same page, and the page
    /// goes back to the pool when the last is done. The device takes the buffer in every case. A frame the listener's
    /// queue cannot take is counted as a receive drop, one a tap's queue cannot take as a tap drop. Safe from any thread.
    /// </summary>
    /// <param name="buffer">The page holding the frame, from <see cref="TryRentFrameBuffer"/> (or a pool whose buffers hold <see cref="MaxFrameSize"/> bytes).</param>
    /// <param name="length">The frame's length, header included, without the FCS.</param>
    /// <returns>False when the frame was refused: malformed (counted as a receive error) or the device is disconnected.</returns>
    protected bool Deliver(PageLease buffer, int length)
    {
        if (length < EthernetHeaderSize || length > MaxFrameSize || length > buffer.Length)
        {
            buffer.Dispose();
            _counters.ReceiveFailed();
            return false;
        }

        if (!IsConnected)
        {
            buffer.Dispose();
            return false;
        }

        _counters.Received(length);
        FanOut(buffer, length, FrameDirection.Inbound);
        return true;
    }

    /// <summary>
    /// Copies a frame being sent to the taps that asked for sent frames; called by the send path only while one is
    /// open (<see cref="_outboundTaps"/>), so a device without such a tap pays one field read per frame.
    /// </summary>
    private void CopyToOutboundTaps(ReadOnlySpan<byte> frame)
    {
        if (!TryRentForTaps(out PageLease buffer))
        {
            CountOutboundTapDrops();
            return;
        }

        frame.CopyTo(buffer.Span);
        FanOut(buffer, frame.Length, FrameDirection.Outbound);
    }

    private void CopyToOutboundTaps(IReadOnlyList<ReadOnlyMemory<byte>> fragments, int length)
    {
        if (!TryRentForTaps(out PageLease buffer))
        {
            CountOutboundTapDrops();
            return;
        }

        int offset = 0;
        foreach (ReadOnlyMemory<byte> fragment in fragments)
        {
            fragment.Span.CopyTo(buffer.Span[offset..]);
            offset += fragment.Length;
        }

        FanOut(buffer, length, FrameDirection.Outbound);
    }

    private bool TryRentForTaps(out PageLease buffer)
    {
        try
        {
            return _pool.TryRent(out buffer);
        }
        catch (ObjectDisposedException)
        {
            buffer = default; // disposed while sending: no tap is left to see it
            return false;
        }
    }

    private void CountOutboundTapDrops()
    {
        foreach (FrameQueue consumer in Volatile.Read(ref _consumers))
        {
            if ((consumer.Directions & FrameDirection.Outbound) != 0)
            {
                _counters.TapDropped();
            }
        }
    }

    /// <summary>Hands a frame in a page to every consumer that takes frames of its direction.</summary>
    private void FanOut(PageLease buffer, int length, FrameDirection direction)
    {
        FrameQueue[] consumers = Volatile.Read(ref _consumers);
        uint holders = ReceivedFrame.DelivererBit;
        foreach (FrameQueue consumer in consumers)
        {
            if ((consumer.Directions & direction) != 0)
            {
                holders |= consumer.Holder;
            }
        }

        ReceivedFrame frame = RentFrame();
        uint generation = frame.Begin(buffer, length, DateTime.UtcNow.Ticks, holders, direction);
        foreach (FrameQueue consumer in consumers)
        {
            if ((consumer.Directions & direction) == 0)
            {
                continue;
            }

            FrameQueueResult result = consumer.TryEnqueue(new FrameLease(frame, generation, consumer.Holder));
            if (result == FrameQueueResult.Queued)
            {
                continue;
            }

            if (result == FrameQueueResult.Full)
            {
                if (ReferenceEquals(consumer, _receiveQueue))
                {
                    _counters.ReceiveDropped();
                }
                else
                {
                    _counters.TapDropped();
                }
            }

            frame.Release(generation, consumer.Holder);
        }

        frame.Release(generation, ReceivedFrame.DelivererBit);
    }

    internal void CloseReader(FrameReader reader)
    {
        if (reader.IsListener)
        {
            lock (_consumersLock)
            {
                if (ReferenceEquals(_listener, reader))
                {
                    _listener = null;
                }
            }

            reader.Queue.AbandonWait(); // its frames stay for the next listener
            return;
        }

        lock (_consumersLock)
        {
            _consumers = Array.FindAll(_consumers, c => !ReferenceEquals(c, reader.Queue));
            if ((reader.Queue.Directions & FrameDirection.Outbound) != 0)
            {
                _outboundTaps--;
            }
        }

        reader.Queue.Discard(); // the tap chose to stop: what it left unread is not a drop
    }

    private ReceivedFrame RentFrame()
    {
        lock (_spareFrames)
        {
            if (_spareFrames.TryPop(out ReceivedFrame? spare))
            {
                return spare;
            }
        }

        // At most one per page of the pool is ever in use, so the spares are bounded by the pool's bound.
        return new ReceivedFrame(_spareFrames);
    }

    private void ThrowIfDisconnected()
    {
        if (!IsConnected)
        {
            throw new DeviceDisconnectedException(Name);
        }
    }

    /// <summary>No more frames: consumers read those queued, then the end (or the error).</summary>
    private void CompleteConsumers(DeviceException? error)
    {
        FrameQueue[] consumers;
        lock (_consumersLock)
        {
            consumers = _consumers;
        }

        foreach (FrameQueue consumer in consumers)
        {
            consumer.Complete(error);
        }
    }

    /// <summary>On dispose: frames still queued will never be read; release them and count them as dropped.</summary>
    private void DiscardConsumers()
    {
        FrameQueue[] consumers;
        lock (_consumersLock)
        {
            consumers = _consumers;
        }

        foreach (FrameQueue consumer in consumers)
        {
            int discarded = consumer.Discard();
            for (int i = 0; i < discarded; i++)
            {
                if (ReferenceEquals(consumer, _receiveQueue))
                {
                    _counters.ReceiveDropped();
                }
                else
                {
                    _counters.TapDropped();
                }
            }
        }

        if (_ownsPool)
        {
            _pool.Dispose(); // freed when the last lease a consumer still holds comes back
        }
    }
}
