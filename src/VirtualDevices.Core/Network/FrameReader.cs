using System.Runtime.CompilerServices;

namespace VirtualDevices.Network;

/// <summary>
/// A consumer of a network device's received frames, with its own bounded queue: the device's listener
/// (<see cref="INetworkDevice.OpenListener"/>) or a tap beside it (<see cref="INetworkDevice.OpenTap"/>). Frames come
/// as <see cref="FrameLease"/>s sharing the device's pooled pages; dispose each when done. A frame that finds the
/// queue full is missed and counted (<see cref="Dropped"/>, and in the device's statistics); the device never waits
/// for a consumer. One reader at a time. Dispose the reader to stop consuming.
/// </summary>
public sealed class FrameReader : IDisposable
{
    private readonly NetworkDevice _device;
    private int _closed;

    internal FrameReader(NetworkDevice device, FrameQueue queue, bool isListener)
    {
        _device = device;
        Queue = queue;
        IsListener = isListener;
    }

    /// <summary>The device's name.</summary>
    public string Device => _device.Name;

    /// <summary>True for the device's listener, false for a tap.</summary>
    public bool IsListener { get; }

    /// <summary>How many frames the queue holds at most.</summary>
    public int Capacity => Queue.Capacity;

    /// <summary>Frames waiting now.</summary>
    public int Count => Queue.Count;

    /// <summary>Frames queued for this consumer so far (for the listener: since the device was created).</summary>
    public long Queued => Queue.Queued;

    /// <summary>Frames this consumer missed because its queue was full.</summary>
    public long Dropped => Queue.Dropped;

    internal FrameQueue Queue { get; }

    /// <summary>Takes the next frame if one is waiting.</summary>
    /// <param name="frame">The frame, to be disposed when done.</param>
    /// <exception cref="ObjectDisposedException">The reader has been disposed.</exception>
    public bool TryRead(out FrameLease frame)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _closed) != 0, this);
        return Queue.TryRead(out frame);
    }

    /// <summary>
    /// Waits until a frame is waiting (true), or until no more will come: the device was disconnected and the queue
    /// is empty, or the reader was disposed (false). Allocation-free.
    /// </summary>
    /// <param name="cancellationToken">Stops waiting.</param>
    /// <exception cref="DeviceException">The device failed; the frames received before were read first.</exception>
    public ValueTask<bool> WaitToReadAsync(CancellationToken cancellationToken = default) =>
        Volatile.Read(ref _closed) != 0 ? new ValueTask<bool>(false) : Queue.WaitToReadAsync(cancellationToken);

    /// <summary>Every frame until no more will come (see <see cref="WaitToReadAsync"/>); dispose each.</summary>
    /// <param name="cancellationToken">Stops reading.</param>
    public async IAsyncEnumerable<FrameLease> ReadAllAsync([EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        while (await WaitToReadAsync(cancellationToken).ConfigureAwait(false))
        {
            while (TryRead(out FrameLease frame))
            {
                yield return frame;
            }
        }
    }

    /// <summary>
    /// Stops consuming. A tap's waiting frames are released; the listener's stay queued for the next listener (as a
    /// NIC's ring keeps frames while no one reads them). A pending wait ends with false.
    /// </summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _closed, 1) == 0)
        {
            _device.CloseReader(this);
        }
    }
}
