using System.Buffers;
using VirtualDevices.Devices;
using VirtualDevices.IO.Buffers;

namespace VirtualDevices.Network;

/// <summary>
/// The shared half of every network driver: frame-size and state checks, statistics, error normalisation, and the
/// receive side: pooled page buffers, the listener's queue, taps, and the fan-out between them. A driver implements
/// sending one frame; it receives by renting a page (<see cref="TryRentFrameBuffer"/>), filling it (a read, a copy,
/// a grant copy) and handing it over (<see cref="Deliver"/>), from whatever thread it receives on.
/// </summary>
public abstract partial class NetworkDevice : INetworkDevice
{
    /// <summary>Destination, source and EtherType.</summary>
    public const int EthernetHeaderSize = 14;

    /// <summary>An 802.1Q tag.</summary>
    public const int VlanTagSize = 4;

    private readonly NetworkCounters _counters = new();
    private readonly CancellationTokenSource _disconnecting = new();
    private int _disconnected;

    /// <summary>Initialises the device.</summary>
    /// <param name="name">The device's name, or null for the next default name of <paramref name="driver"/>.</param>
    /// <param name="driver">The driver's name, also the prefix of default names.</param>
    /// <param name="location">What the device is attached to.</param>
    /// <param name="macAddress">The device's address.</param>
    /// <param name="mtu">The largest payload, in bytes.</param>
    /// <param name="receiveQueueLength">Frames the listener's queue holds (kept while no one listens, as a NIC's ring).</param>
    /// <param name="receivePool">
    /// The pool received frames are put in, or null for one of the device's own, of <c>4 × receiveQueueLength</c>
    /// buffers (4 MiB for the default queue at MTU 1500) of the pages a frame of <see cref="MaxFrameSize"/> needs.
    /// A pool given here is not disposed with the device.
    /// </param>
    protected NetworkDevice(string? name, string driver, string location, MacAddress macAddress, int mtu,
        int receiveQueueLength = DefaultQueueLength, PageBufferPool? receivePool = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(mtu, 68);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(mtu, 65535);
        Name = string.IsNullOrEmpty(name) ? DeviceNames.Next(driver) : name;
        Driver = driver;
        Location = location;
        MacAddress = macAddress;
        Mtu = mtu;
        ArgumentOutOfRangeException.ThrowIfLessThan(receiveQueueLength, 1);
        if (receivePool is not null && receivePool.BufferSize < MaxFrameSize)
        {
            throw new ArgumentException($"The pool's buffers ({receivePool.BufferSize} bytes) are smaller than the largest frame ({MaxFrameSize}).", nameof(receivePool));
        }

        _ownsPool = receivePool is null;
        _pool = receivePool ?? new PageBufferPool(maxBuffers: 4 * receiveQueueLength, PageBufferPool.PagesFor(MaxFrameSize));
        _receiveQueue = new FrameQueue(receiveQueueLength, ListenerHolder);
        _consumers = [_receiveQueue];
    }

    /// <inheritdoc/>
    public string Name { get; }

    /// <inheritdoc/>
    public DeviceKind Kind => DeviceKind.Network;

    /// <inheritdoc/>
    public string Driver { get; }

    /// <inheritdoc/>
    public string Location { get; }

    /// <inheritdoc/>
    public MacAddress MacAddress { get; }

    /// <inheritdoc/>
    public int Mtu { get; }

    /// <inheritdoc/>
    public int MaxFrameSize => Mtu + EthernetHeaderSize + VlanTagSize;

    /// <inheritdoc/>
    public bool IsConnected => Volatile.Read(ref _disconnected) == 0;

    /// <inheritdoc/>
    public event EventHandler? Disconnected;

    /// <summary>The counters; drivers add receive drops and errors they see.</summary>
    protected NetworkCounters Counters => _counters;

    /// <summary>Cancelled when the device disconnects, so that drivers can interrupt blocked waits.</summary>
    protected CancellationToken DisconnectToken => _disconnecting.Token;

    /// <inheritdoc/>
    public DeviceStatistics GetStatistics() => _counters.Snapshot(Name, Driver);

    /// <inheritdoc/>
    public void ResetStatistics() => _counters.Reset();

    /// <inheritdoc/>
    public override string ToString() => $"{Name} ({Driver}: {Location}, {MacAddress})";

    /// <inheritdoc/>
    public ValueTask WriteAsync(ReadOnlyMemory<byte> frame, CancellationToken cancellationToken = default)
    {
        Exception? error = Check(frame.Length, cancellationToken);
        if (error is not null)
        {
            _counters.SendFailed();
            return ValueTask.FromException(error);
        }

        if (Volatile.Read(ref _outboundTaps) != 0)
        {
            CopyToOutboundTaps(frame.Span);
        }

        ValueTask pending;
        try
        {
            pending = WriteCoreAsync(frame, cancellationToken);
        }
        catch (Exception e)
        {
            return ValueTask.FromException(Normalize(e));
        }

        if (pending.IsCompletedSuccessfully)
        {
            pending.GetAwaiter().GetResult();
            _counters.Sent(frame.Length);
            return default;
        }

        return AwaitSend(pending, frame.Length);
    }

    /// <inheritdoc/>
    public ValueTask WriteAsync(IReadOnlyList<ReadOnlyMemory<byte>> fragments, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(fragments);
        int length = 0;
        foreach (ReadOnlyMemory<byte> fragment in fragments)
        {
            length += fragment.Length;
        }

        Exception? error = Check(length, cancellationToken);
        if (error is not null)
        {
            _counters.SendFailed();
            return ValueTask.FromException(error);
        }

        if (Volatile.Read(ref _outboundTaps) != 0)
        {
            CopyToOutboundTaps(fragments, length);
        }

        ValueTask pending;
        try
        {
            pending = WriteCoreAsync(fragments, length, cancellationToken);
        }
        catch (Exception e)
        {
            return ValueTask.FromException(Normalize(e));
        }

        return pending.IsCompletedSuccessfully ? CountSent(pending, length) : AwaitSend(pending, length);
    }

        /// <inheritdoc/>
    public async ValueTask DisconnectAsync(CancellationToken cancellationToken = default)
    {
        if (Interlocked.Exchange(ref _disconnected, 1) != 0)
        {
            return;
        }

        try
        {
            await _disconnecting.CancelAsync().ConfigureAwait(false);
            await DisconnectCoreAsync(cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            CompleteConsumers(null);
            Disconnected?.Invoke(this, EventArgs.Empty);
        }
    }

    /// <inheritdoc/>
    public async ValueTask DisposeAsync()
    {
        await DisconnectAsync().ConfigureAwait(false);
        DiscardConsumers();
        _disconnecting.Dispose();
        GC.SuppressFinalize(this);
    }

    /// <summary>Sends one frame whose length has been checked.</summary>
    protected abstract ValueTask WriteCoreAsync(ReadOnlyMemory<byte> frame, CancellationToken cancellationToken);

    /// <summary>Sends a gathered frame; by default copies the fragments into one pooled buffer.</summary>
    protected virtual async ValueTask WriteCoreAsync(IReadOnlyList<ReadOnlyMemory<byte>> fragments, int length, CancellationToken cancellationToken)
    {
        byte[] frame = ArrayPool<byte>.Shared.Rent(length);
        try
        {
            int offset = 0;
            foreach (ReadOnlyMemory<byte> fragment in fragments)
            {
                fragment.Span.CopyTo(frame.AsSpan(offset));
                offset += fragment.Length;
            }

            await WriteCoreAsync(frame.AsMemory(0, length), cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(frame);
        }
    }

    /// <summary>Releases the driver's resources; called once, by the first <see cref="DisconnectAsync"/>.</summary>
    protected virtual ValueTask DisconnectCoreAsync(CancellationToken cancellationToken) => default;

    /// <summary>
    /// For drivers whose peer went away or whose link failed: later requests fail, and <see cref="Disconnected"/> is
    /// raised. Consumers read the frames already queued, then see the end (or <paramref name="error"/>).
    /// </summary>
    /// <param name="error">Why the link failed, or null when the peer simply went away.</param>
    protected void MarkDisconnected(DeviceException? error = null)
    {
        if (Interlocked.Exchange(ref _disconnected, 1) == 0)
        {
            _disconnecting.Cancel();
            CompleteConsumers(error);
            Disconnected?.Invoke(this, EventArgs.Empty);
        }
    }

    private Exception? Check(int length, CancellationToken cancellationToken)
    {
        if (cancellationToken.IsCancellationRequested)
        {
            return new OperationCanceledException(cancellationToken);
        }

        if (!IsConnected)
        {
            return new DeviceDisconnectedException(Name);
        }

        return length < EthernetHeaderSize || length > MaxFrameSize ? new FrameSizeException(Name, length, EthernetHeaderSize, MaxFrameSize) : null;
    }

    private ValueTask CountSent(ValueTask completed, int length)
    {
        completed.GetAwaiter().GetResult();
        _counters.Sent(length);
        return default;
    }

    private async ValueTask AwaitSend(ValueTask pending, int length)
    {
        try
        {
            await pending.ConfigureAwait(false);
        }
        catch (Exception e)
        {
            DriverFailure.Throw(e, Normalize(e));
        }

        _counters.Sent(length);
    }

    private Exception Normalize(Exception e)
    {
        _counters.SendFailed();
        return DriverFailure.Normalize(Name, e);
    }
}
