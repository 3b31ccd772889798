using System.Buffers;
using VirtualDevices.Devices;

namespace VirtualDevices.Network;

/// <summary>
/// The shared half of every network driver: frame-size and state checks, statistics, the listen loop with its
/// receive buffer, and error normalisation. A driver implements sending one frame and receiving one frame.
/// </summary>
public abstract class NetworkDevice : INetworkDevice
{
    /// <summary>Destination, source and EtherType.</summary>
    public const int EthernetHeaderSize = 14;

    /// <summary>An 802.1Q tag.</summary>
    public const int VlanTagSize = 4;

    private readonly NetworkCounters _counters = new();
    private readonly CancellationTokenSource _disconnecting = new();
    private int _disconnected;
    private int _listening;

    /// <summary>Initialises the device.</summary>
    /// <param name="name">The device's name, or null for the next default name of <paramref name="driver"/>.</param>
    /// <param name="driver">The driver's name, also the prefix of default names.</param>
    /// <param name="location">What the device is attached to.</param>
    /// <param name="macAddress">The device's address.</param>
    /// <param name="mtu">The largest payload, in bytes.</param>
    protected NetworkDevice(string? name, string driver, string location, MacAddress macAddress, int mtu)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(mtu, 68);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(mtu, 65535);
        Name = string.IsNullOrEmpty(name) ? DeviceNames.Next(driver) : name;
        Driver = driver;
        Location = location;
        MacAddress = macAddress;
        Mtu = mtu;
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
    public async ValueTask ListenAsync(FrameHandler handler, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(handler);
        if (!IsConnected)
        {
            throw new DeviceDisconnectedException(Name);
        }

        if (Interlocked.Exchange(ref _listening, 1) != 0)
        {
            throw new DeviceException(DeviceErrorIds.Network.ListenerActive, DeviceErrorCategory.InvalidOperation,
                $"Device '{Name}' already has a listener; stop it first.", Name);
        }

        byte[] buffer = ArrayPool<byte>.Shared.Rent(MaxFrameSize);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _disconnecting.Token);
        try
        {
            while (true)
            {
                int length;
                try
                {
                    length = await ReceiveCoreAsync(buffer.AsMemory(0, MaxFrameSize), linked.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
                {
                    return; // disconnected while waiting
                }
                catch (DeviceDisconnectedException)
                {
                    MarkDisconnected();
                    return;
                }
                catch (Exception e) when (e is not OperationCanceledException and not DeviceException)
                {
                    _counters.ReceiveFailed();
                    throw new DeviceUnknownException(Name, e.Message, e);
                }

                if (length <= 0)
                {
                    MarkDisconnected();
                    return;
                }

                _counters.Received(length);
                await handler(buffer.AsMemory(0, length), linked.Token).ConfigureAwait(false);
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
            Volatile.Write(ref _listening, 0);
        }
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
            Disconnected?.Invoke(this, EventArgs.Empty);
        }
    }

    /// <inheritdoc/>
    public async ValueTask DisposeAsync()
    {
        await DisconnectAsync().ConfigureAwait(false);
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

    /// <summary>
    /// Waits for the next frame and copies it into <paramref name="buffer"/> (<see cref="MaxFrameSize"/> bytes);
    /// returns its length, or 0 when the peer has gone (listening then ends). Oversized or malformed frames are
    /// the driver's to drop and count.
    /// </summary>
    protected abstract ValueTask<int> ReceiveCoreAsync(Memory<byte> buffer, CancellationToken cancellationToken);

    /// <summary>Releases the driver's resources; called once, by the first <see cref="DisconnectAsync"/>.</summary>
    protected virtual ValueTask DisconnectCoreAsync(CancellationToken cancellationToken) => default;

    /// <summary>For drivers whose peer went away: later requests fail, and <see cref="Disconnected"/> is raised.</summary>
    protected void MarkDisconnected()
    {
        if (Interlocked.Exchange(ref _disconnected, 1) == 0)
        {
            _disconnecting.Cancel();
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
            Exception normalized = Normalize(e);
            if (ReferenceEquals(normalized, e))
            {
                throw;
            }

            throw normalized;
        }

        _counters.Sent(length);
    }

    private Exception Normalize(Exception e)
    {
        _counters.SendFailed();
        return e is DeviceException or OperationCanceledException ? e : new DeviceUnknownException(Name, e.Message, e);
    }
}
