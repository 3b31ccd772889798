using VirtualDevices.Devices;
using VirtualDevices.Hosting;

namespace VirtualDevices.Network.Capture;

/// <summary>
/// A capture running in the background: a tap on each device (frames received and, on a <see cref="NetworkDevice"/>,
/// frames sent) written to one pcapng file, one interface per device. The taps share the devices' pages with their
/// listeners: the listener still gets every frame. When the disk is slower than the link, a tap's queue fills and the
/// frames that find it full are counted (<see cref="Dropped"/>, and the device's <c>TapDrops</c>); the device never
/// waits. Batches are written each time a queue runs dry (see <see cref="PcapNgWriter"/>). Stopping writes what the
/// taps still hold, then closes the file. A hosted service: the session stops it before closing its devices.
/// </summary>
public sealed class NetworkCapture : IHostedService
{
    private readonly PcapNgWriter _writer;
    private readonly object _writeLock = new();
    private readonly List<(FrameReader Tap, int Interface)> _taps = [];
    private readonly CancellationTokenSource _stopping = new();
    private readonly Task _running;
    private readonly INetworkDevice[] _devices;
    private long _frames;
    private long _bytes;
    private int _stopped;

    private NetworkCapture(INetworkDevice[] devices, PcapNgWriter writer, string path, FrameDirection directions, int queueLength)
    {
        _devices = devices;
        _writer = writer;
        Path = path;
        Directions = directions;
        Started = DateTimeOffset.UtcNow;
        try
        {
            foreach (INetworkDevice device in devices)
            {
                int id = writer.AddInterface(device.Name);
                FrameReader tap = device is NetworkDevice network ? network.OpenTap(queueLength, directions) : device.OpenTap(queueLength);
                _taps.Add((tap, id));
            }

            writer.Flush(); // the section and interfaces are on disk before the first frame
        }
        catch
        {
            foreach ((FrameReader tap, _) in _taps)
            {
                tap.Dispose();
            }

            throw;
        }

        _running = Task.WhenAll(_taps.Select(t => Task.Run(() => PumpAsync(t.Tap, t.Interface))));
    }

    /// <summary>The capture file.</summary>
    public string Path { get; }

    /// <summary>The names of the devices captured.</summary>
    public IReadOnlyList<string> Devices => _devices.Select(d => d.Name).ToArray();

    /// <summary>The directions captured (Inbound, Outbound or Both; only Inbound on a device that is not a <see cref="NetworkDevice"/>).</summary>
    public FrameDirection Directions { get; }

    /// <summary>When the capture started.</summary>
    public DateTimeOffset Started { get; }

    /// <summary>Frames written to the file.</summary>
    public long Frames => Interlocked.Read(ref _frames);

    /// <summary>Bytes of frames written (without the file's own headers).</summary>
    public long Bytes => Interlocked.Read(ref _bytes);

    /// <summary>Frames missed because a tap's queue was full (the disk was slower than the link).</summary>
    public long Dropped => _taps.Sum(t => t.Tap.Dropped);

    /// <summary>True until every device's tap has ended (stopped, devices disconnected, or the file failed).</summary>
    public bool IsRunning => !_running.IsCompleted;

    /// <summary>Why the capture ended early (a write failure), or null.</summary>
    public Exception? Error { get; private set; }

    /// <inheritdoc/>
    public IReadOnlyCollection<IDevice> ServedDevices => _devices;

    /// <summary>Starts capturing <paramref name="devices"/> into a new pcapng file.</summary>
    /// <param name="devices">The devices.</param>
    /// <param name="path">The file.</param>
    /// <param name="overwrite">True to replace an existing file (else <c>CaptureFileExists</c>, the file untouched).</param>
    /// <param name="directions">Inbound, Outbound or Both (default).</param>
    /// <param name="queueLength">Frames each tap holds while the file catches up (default 4096).</param>
    public static NetworkCapture Start(IReadOnlyList<INetworkDevice> devices, string path, bool overwrite, FrameDirection directions = FrameDirection.Both, int queueLength = 4096)
    {
        ArgumentNullException.ThrowIfNull(devices);
        ArgumentOutOfRangeException.ThrowIfZero(devices.Count);
        ArgumentOutOfRangeException.ThrowIfLessThan(queueLength, 1);
        return Start(devices, PcapNgWriter.Create(path, overwrite), path, directions, queueLength);
    }

    /// <summary>Starts capturing into a writer (the tests' stalled or failing streams); the capture owns the writer.</summary>
    internal static NetworkCapture Start(IReadOnlyList<INetworkDevice> devices, PcapNgWriter writer, string path, FrameDirection directions, int queueLength)
    {
        try
        {
            return new NetworkCapture([.. devices], writer, path, directions, queueLength);
        }
        catch
        {
            writer.Dispose();
            throw;
        }
    }

    /// <summary>Writes what the taps still hold, then closes the taps and the file.</summary>
    /// <param name="cancellationToken">Cuts the writing of what is queued short.</param>
    public async Task StopAsync(CancellationToken cancellationToken = default)
    {
        if (Interlocked.Exchange(ref _stopped, 1) != 0)
        {
            await _running.ConfigureAwait(false);
            return;
        }

        await _stopping.CancelAsync().ConfigureAwait(false);
        try
        {
            await _running.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            foreach ((FrameReader tap, _) in _taps)
            {
                tap.Dispose();
            }

            lock (_writeLock)
            {
                try
                {
                    _writer.Dispose();
                }
                catch (CaptureFileException e)
                {
                    Error ??= e;
                }
            }
        }
    }

    /// <inheritdoc/>
    public async ValueTask DisposeAsync()
    {
        await StopAsync().ConfigureAwait(false);
        _stopping.Dispose();
    }

    private async Task PumpAsync(FrameReader tap, int interfaceId)
    {
        try
        {
            while (true)
            {
                bool more;
                try
                {
                    more = await tap.WaitToReadAsync(_stopping.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (_stopping.IsCancellationRequested)
                {
                    more = false;
                }
                catch (DeviceException)
                {
                    more = false; // the device failed: what it received before was written
                }

                Drain(tap, interfaceId);
                if (!more)
                {
                    return;
                }
            }
        }
        catch (CaptureFileException e)
        {
            Error ??= e;
            tap.Dispose(); // the file is unusable: stop holding the device's pages
        }
    }

    /// <summary>Writes every frame waiting, then the batch: a batch per wake-up, flushed when the queue runs dry.</summary>
    private void Drain(FrameReader tap, int interfaceId)
    {
        lock (_writeLock)
        {
            while (tap.TryRead(out FrameLease frame))
            {
                using (frame)
                {
                    long nanoseconds = (frame.Timestamp.UtcTicks - DateTimeOffset.UnixEpoch.UtcTicks) * 100;
                    _writer.WriteFrame(interfaceId, nanoseconds, frame.Direction, frame.Span);
                    Interlocked.Increment(ref _frames);
                    Interlocked.Add(ref _bytes, frame.Length);
                }
            }

            _writer.Flush();
        }
    }
}
