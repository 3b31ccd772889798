using System.Runtime.CompilerServices;
using VirtualDevices.IO;
using VirtualDevices.Xen.EventChannels;

namespace VirtualDevices.Xen.Xenstore.Protocol;

/// <summary>
/// Xenstore over a shared <c>xenstore_domain_interface</c> page and an event channel, as a Xen guest and xenstored
/// speak (docs/misc/xenstore-ring.txt): a <see cref="Transport"/> like a socket, for the client on the guest's side
/// (it writes <c>req</c> and reads <c>rsp</c>) and for the embedded server on the daemon's (the other way round).
/// </summary>
/// <remarks>
/// <para>Never trusts the other end: its index is read once per call into a local, checked (a producer more than the
/// ring's 1,024 bytes ahead of our consumer, a consumer ahead of our producer, or either going backwards breaks the
/// ring: <see cref="DeviceErrorIds.Xenstore.RingBroken"/>, as an <see cref="IOException"/> so both roles close the
/// connection), and only then used, masked, to copy. Our own indices are private copies; what the peer scribbles
/// over them in the page is never read back. The daemon's side also sets <c>error</c> to XENSTORE_ERROR_RINGIDX.</para>
/// <para>Notifications: the ring has no event suppression; a write notifies once per call (a message's header and
/// payload are one call), and a read notifies only when the writer may have found the ring full, as xenstored and
/// Linux do. That check re-reads the producer after publishing our consumer behind a full fence: a writer that saw
/// the ring full published its producer before it read our old consumer, so the re-read sees it, and no wake-up is
/// lost.</para>
/// <para>Waits: one thread waits on the channel at a time (an event channel has one waiter); a second (a send waiting
/// for room while the reader waits for replies) waits on a monitor the first pulses after every event, and takes
/// over the channel when the first leaves. For a poll loop, <see cref="PollHandle"/> is the channel's descriptor: it
/// says both "requests came" and "room was made", so <see cref="WritableEvents"/> is readable too, and the events
/// a send took while the loop waited for room are reported by <see cref="InputPending"/>. No allocation per call.</para>
/// </remarks>
internal sealed unsafe class XenstoreRingTransport : Transport
{
    private const int RingSize = XenstoreRingLayout.RingSize;

    private readonly byte* _page;
    private readonly IEventChannel _channel;
    private readonly PolledEventChannel? _polled;
    private readonly Action? _release;
    private readonly bool _server;
    private readonly int _outData;
    private readonly int _inData;
    private readonly uint* _outProducer;
    private readonly uint* _outConsumer;
    private readonly uint* _inProducer;
    private readonly uint* _inConsumer;
    private readonly object _sendGate = new();
    private readonly object _receiveGate = new();
    private readonly object _waitGate = new();
    private readonly CancellationTokenSource _shutdownSource = new();

    // Private copies of our own indices, and the last seen of the peer's (a peer index never goes backwards).
    private uint _outProduced;
    private uint _inConsumed;
    private uint _lastOutConsumer;
    private uint _lastInProducer;

    private bool _channelWaiter;
    private int _active;
    private int _shutdown;
    private int _disposed;
    private volatile bool _inputPending;
    private volatile DeviceException? _broken;

    /// <param name="page">The shared page (at least <see cref="XenstoreRingLayout.Size"/> bytes), valid until <paramref name="release"/> runs.</param>
    /// <param name="channel">The event channel to the other end.</param>
    /// <param name="server">True on the daemon's side (reads <c>req</c>, writes <c>rsp</c>).</param>
    /// <param name="description">Names the ring in messages.</param>
    /// <param name="release">Run once at dispose, after every call has left the page: unmaps it, unbinds the channel.</param>
    public XenstoreRingTransport(byte* page, IEventChannel channel, bool server, string description, Action? release)
    {
        ArgumentNullException.ThrowIfNull(channel);
        _page = page;
        _channel = channel;
        _polled = channel as PolledEventChannel;
        _server = server;
        _release = release;
        Description = description;
        _outData = server ? XenstoreRingLayout.ResponseOffset : XenstoreRingLayout.RequestOffset;
        _inData = server ? XenstoreRingLayout.RequestOffset : XenstoreRingLayout.ResponseOffset;
        _outProducer = (uint*)(page + (server ? XenstoreRingLayout.ResponseProducerOffset : XenstoreRingLayout.RequestProducerOffset));
        _outConsumer = (uint*)(page + (server ? XenstoreRingLayout.ResponseConsumerOffset : XenstoreRingLayout.RequestConsumerOffset));
        _inProducer = (uint*)(page + (server ? XenstoreRingLayout.RequestProducerOffset : XenstoreRingLayout.ResponseProducerOffset));
        _inConsumer = (uint*)(page + (server ? XenstoreRingLayout.RequestConsumerOffset : XenstoreRingLayout.ResponseConsumerOffset));

        // Our indices as the page holds them now: a daemon introduced to a ring the guest already wrote into, or a
        // guest reconnecting, carries on from there. The peer's are taken as they are and checked at first use.
        _outProduced = Volatile.Read(ref *_outProducer);
        _inConsumed = Volatile.Read(ref *_inConsumer);
        _lastOutConsumer = Volatile.Read(ref *_outConsumer);
        _lastInProducer = Volatile.Read(ref *_inProducer);
        if (server)
        {
            Volatile.Write(ref *(uint*)(page + XenstoreRingLayout.ServerFeaturesOffset), XenstoreRingLayout.FeatureError);
        }
    }

    /// <inheritdoc/>
    public override string Description { get; }

    /// <summary>Why the ring was given up on, or null while it is sound.</summary>
    public DeviceException? BrokenError => _broken;

    /// <inheritdoc/>
    /// <remarks>The bytes the other end has produced and we have not read; -1 once broken or shut down (the next call says why).</remarks>
    public override int Available
    {
        get
        {
            if (_broken is not null || Volatile.Read(ref _shutdown) != 0)
            {
                return -1;
            }

            uint available = Volatile.Read(ref *_inProducer) - Volatile.Read(ref _inConsumed);
            return available <= RingSize ? (int)available : -1;
        }
    }

    /// <inheritdoc/>
    public override SafeHandle? PollHandle => _polled?.PollDescriptor;

    /// <inheritdoc/>
    public override IO.Polling.PollEvents WritableEvents => IO.Polling.PollEvents.Readable;

    /// <inheritdoc/>
    public override bool InputPending => _inputPending;

    /// <inheritdoc/>
    /// <returns>Bytes read; 0 once shut down, or when the channel was closed at the other end and nothing is left.</returns>
    /// <exception cref="IOException">The ring is broken (<see cref="BrokenError"/>).</exception>
    public override int Receive(Span<byte> buffer)
    {
        Enter();
        try
        {
            while (true)
            {
                int read = TryReceive(buffer);
                if (read != 0)
                {
                    return Math.Max(read, 0);
                }

                if (!AwaitPeer(send: false))
                {
                    return 0;
                }
            }
        }
        finally
        {
            Leave();
        }
    }

    /// <inheritdoc/>
    public override void Send(ReadOnlySpan<byte> data) => Send(data, default);

    /// <inheritdoc/>
    /// <remarks>Header and payload in one call, so one notification for a whole message.</remarks>
    public override void Send(ReadOnlySpan<byte> header, ReadOnlySpan<byte> payload)
    {
        Enter();
        try
        {
            lock (_sendGate)
            {
                while (true)
                {
                    ThrowIfUnusable();
                    int written = Write(header);
                    header = header[written..];
                    if (header.IsEmpty)
                    {
                        int more = Write(payload);
                        payload = payload[more..];
                        written += more;
                    }

                    if (written > 0)
                    {
                        Notify();
                    }

                    if (header.IsEmpty && payload.IsEmpty)
                    {
                        return;
                    }

                    if (!AwaitPeer(send: true))
                    {
                        ThrowIfUnusable();
                        throw new IOException($"The xenstore ring {Description} was shut down.");
                    }
                }
            }
        }
        finally
        {
            Leave();
        }
    }

    /// <inheritdoc/>
    public override void SendGathered(ReadOnlyMemory<byte> header, ReadOnlyMemory<byte> payload) => Send(header.Span, payload.Span);

    /// <inheritdoc/>
    /// <returns>Bytes read; 0 at end of stream (shut down, or the channel closed with nothing left); -1 when nothing is there now.</returns>
    public override int ReceiveNonBlocking(Span<byte> buffer)
    {
        Enter();
        try
        {
            // The events first, then the indices: an event that comes after the read below stays pending and the
            // poll loop calls again.
            TakeEvents();
            _inputPending = false;
            int read = TryReceive(buffer);
            return read > 0 ? read : read == 0 ? -1 : 0;
        }
        finally
        {
            Leave();
        }
    }

    /// <inheritdoc/>
    /// <remarks>
    /// When the ring has no room for all of it, takes the pending events (the loop then waits on them for room,
    /// level-triggered: left pending, they would call it again and again while a guest that never reads keeps the
    /// ring full); requests they announced are then <see cref="InputPending"/>. A send that fits leaves them for the
    /// loop's next read.
    /// </remarks>
    public override int SendNonBlocking(ReadOnlySpan<byte> data)
    {
        Enter();
        try
        {
            lock (_sendGate)
            {
                ThrowIfUnusable();
                int written = Write(data);
                if (written < data.Length)
                {
                    // The loop will wait for room: take the events now (then look again, so a "room made" event
                    // taken here is never one the loop waits for), and remember requests they announced.
                    if (TakeEvents() > 0 && Volatile.Read(ref *_inProducer) != Volatile.Read(ref _inConsumed))
                    {
                        _inputPending = true;
                    }

                    written += Write(data[written..]);
                }

                if (written > 0)
                {
                    Notify();
                }

                return written;
            }
        }
        finally
        {
            Leave();
        }
    }

    /// <inheritdoc/>
    public override void Shutdown()
    {
        if (Interlocked.Exchange(ref _shutdown, 1) != 0)
        {
            return;
        }

        _shutdownSource.Cancel();
        lock (_waitGate)
        {
            Monitor.PulseAll(_waitGate);
        }
    }

    /// <summary>Shuts down, waits (up to 5 s) for calls still inside to leave the page, then releases page and channel.</summary>
    public override void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        Shutdown();

        // Every blocked call was woken by the shutdown and leaves at once; a call that does not within 5 s (a thread
        // suspended in a debugger) keeps the page: it is leaked rather than unmapped under that thread.
        long deadline = Environment.TickCount64 + 5000;
        while (Volatile.Read(ref _active) > 0)
        {
            if (Environment.TickCount64 > deadline)
            {
                return;
            }

            Thread.Sleep(1);
        }

        _release?.Invoke();
        _shutdownSource.Dispose();
    }

    /// <summary>What a read finds: bytes copied (over 0), nothing now (0), or end of stream (-1: shut down, or the channel closed with nothing left).</summary>
    private int TryReceive(Span<byte> buffer)
    {
        lock (_receiveGate)
        {
            ThrowIfBroken();
            if (Volatile.Read(ref _shutdown) != 0)
            {
                return -1;
            }

            int read = Read(buffer);
            if (read > 0)
            {
                return read;
            }

            return _polled is { IsClosed: true } ? -1 : 0;
        }
    }

    /// <summary>Copies what the peer produced (up to <paramref name="buffer"/>'s length) and publishes our consumer.</summary>
    private int Read(Span<byte> buffer)
    {
        uint producer = Volatile.Read(ref *_inProducer); // once: the page may change under us
        uint consumed = _inConsumed;
        uint available = producer - consumed;
        if (available > RingSize || producer - _lastInProducer > RingSize)
        {
            throw Break($"its producer index {producer} is {(int)available} bytes from our consumer {consumed} (last seen {_lastInProducer}); a ring holds {RingSize}");
        }

        _lastInProducer = producer;
        if (available == 0 || buffer.IsEmpty)
        {
            return 0;
        }

        int count = (int)Math.Min(available, (uint)buffer.Length);
        int start = (int)(consumed & XenstoreRingLayout.IndexMask);
        int first = Math.Min(count, RingSize - start);
        new ReadOnlySpan<byte>(_page + _inData + start, first).CopyTo(buffer);
        new ReadOnlySpan<byte>(_page + _inData, count - first).CopyTo(buffer[first..]);

        // Published after the copy (a release write): the writer may reuse the bytes once it sees the new consumer.
        Volatile.Write(ref _inConsumed, consumed + (uint)count);
        Volatile.Write(ref *_inConsumer, consumed + (uint)count);
        Interlocked.MemoryBarrier();
        if (Volatile.Read(ref *_inProducer) - consumed >= RingSize)
        {
            Notify(); // the writer may have found the ring full and be waiting for room
        }

        return count;
    }

    /// <summary>Copies what fits of <paramref name="data"/> and publishes our producer; the caller notifies.</summary>
    private int Write(ReadOnlySpan<byte> data)
    {
        if (data.IsEmpty)
        {
            return 0;
        }

        uint consumer = Volatile.Read(ref *_outConsumer); // once
        uint produced = _outProduced;
        uint used = produced - consumer;
        if (used > RingSize || consumer - _lastOutConsumer > RingSize)
        {
            throw Break($"its consumer index {consumer} is {(int)used} bytes behind our producer {produced} (last seen {_lastOutConsumer}); a ring holds {RingSize}");
        }

        _lastOutConsumer = consumer;
        int count = Math.Min(RingSize - (int)used, data.Length);
        if (count == 0)
        {
            return 0;
        }

        int start = (int)(produced & XenstoreRingLayout.IndexMask);
        int first = Math.Min(count, RingSize - start);
        data[..first].CopyTo(new Span<byte>(_page + _outData + start, first));
        data[first..count].CopyTo(new Span<byte>(_page + _outData, count - first));
        _outProduced = produced + (uint)count;

        // A release write: the bytes are in the page before the peer can see the producer that covers them.
        Volatile.Write(ref *_outProducer, produced + (uint)count);
        return count;
    }

    /// <summary>
    /// Waits until the other end did something (true), or the transport was shut down or the channel closed (false).
    /// The channel's one waiter is whichever thread needs it first; the other waits on the monitor.
    /// </summary>
    private bool AwaitPeer(bool send)
    {
        bool taken = false;
        Monitor.Enter(_waitGate, ref taken);
        try
        {
            while (true)
            {
                if (Volatile.Read(ref _shutdown) != 0 || _broken is not null)
                {
                    return false;
                }

                if (send ? HasRoom() : HasInput())
                {
                    return true;
                }

                if (_polled is { IsClosed: true })
                {
                    return false;
                }

                if (_channelWaiter)
                {
                    Monitor.Wait(_waitGate);
                    continue;
                }

                _channelWaiter = true;
                Monitor.Exit(_waitGate);
                taken = false;
                try
                {
                    _channel.Wait(Timeout.Infinite, _shutdownSource.Token);
                }
                catch (OperationCanceledException)
                {
                    // Shut down: the top of the loop says so.
                }
                catch (DeviceException)
                {
                    // The channel closed at the other end (its domain left): what is left in the ring is still read.
                    if (!(send ? HasRoom() : HasInput()))
                    {
                        MarkPeerGone();
                    }
                }
                catch (ObjectDisposedException)
                {
                    MarkPeerGone();
                }
                finally
                {
                    Monitor.Enter(_waitGate, ref taken);
                    _channelWaiter = false;
                    Monitor.PulseAll(_waitGate);
                }
            }
        }
        finally
        {
            if (taken)
            {
                Monitor.Exit(_waitGate);
            }
        }
    }

    private void MarkPeerGone() => Interlocked.Exchange(ref _shutdown, 1);

    private bool HasInput() => Volatile.Read(ref *_inProducer) != Volatile.Read(ref _inConsumed);

    private bool HasRoom()
    {
        uint used = Volatile.Read(ref _outProduced) - Volatile.Read(ref *_outConsumer);
        return used != RingSize; // a bad index is caught by the write that follows
    }

    private int TakeEvents()
    {
        if (_polled is null)
        {
            return 0;
        }

        try
        {
            return _polled.TakePending();
        }
        catch (ObjectDisposedException)
        {
            return 0;
        }
    }

    private void Notify()
    {
        try
        {
            _channel.Notify();
        }
        catch (DeviceException e)
        {
            throw new IOException($"The event channel of the xenstore ring {Description} is closed: {e.Message}", e);
        }
        catch (ObjectDisposedException e)
        {
            throw new IOException($"The event channel of the xenstore ring {Description} is closed.", e);
        }
    }

    private IOException Break(string why)
    {
        var error = new DeviceException(DeviceErrorIds.Xenstore.RingBroken, DeviceErrorCategory.ProtocolError,
            $"The other end of the xenstore ring {Description} broke it: {why}. The connection is closed.", XenstoreException.XenstoreDeviceName);
        Interlocked.CompareExchange(ref _broken, error, null);
        if (_server)
        {
            // Tells a guest that reads the field (XENSTORE_SERVER_FEATURE_ERROR, advertised above) why we stopped.
            Volatile.Write(ref *(uint*)(_page + XenstoreRingLayout.ErrorOffset), XenstoreRingLayout.ErrorRingIndex);
        }

        return new IOException(_broken!.Message, _broken);
    }

    private void ThrowIfBroken()
    {
        if (_broken is { } broken)
        {
            throw new IOException(broken.Message, broken);
        }
    }

    private void ThrowIfUnusable()
    {
        ThrowIfBroken();
        if (Volatile.Read(ref _shutdown) != 0)
        {
            throw new IOException($"The xenstore ring {Description} was shut down.");
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void Enter()
    {
        Interlocked.Increment(ref _active);
        if (Volatile.Read(ref _disposed) != 0)
        {
            Interlocked.Decrement(ref _active);
            throw new ObjectDisposedException(Description);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void Leave() => Interlocked.Decrement(ref _active);
}
