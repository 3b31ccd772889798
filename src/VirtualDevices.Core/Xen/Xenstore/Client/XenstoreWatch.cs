using System.Runtime.CompilerServices;
using System.Threading.Channels;

namespace VirtualDevices.Xen.Xenstore.Client;

/// <summary>
/// A registered watch: its events as an async stream (the first fires straight after registration, as xenstored
/// does), until it is disposed (which unregisters it) or the client is. It survives reconnections: the client
/// registers it again, which fires it once more.
/// </summary>
public sealed class XenstoreWatch : IAsyncEnumerable<XenstoreWatchEvent>, IAsyncDisposable
{
    private readonly XenstoreClient _client;
    private readonly Channel<XenstoreWatchEvent> _events;
    private long _dropped;
    private int _disposed;

    internal XenstoreWatch(XenstoreClient client, string path, string token, int capacity)
    {
        _client = client;
        Path = path;
        Token = token;
        Capacity = capacity;
        _events = Channel.CreateBounded<XenstoreWatchEvent>(
            new BoundedChannelOptions(capacity) { FullMode = BoundedChannelFullMode.DropOldest, SingleWriter = true },
            _ => Interlocked.Increment(ref _dropped));
    }

    /// <summary>The watched path as registered (absolute, relative, or special such as <c>@releaseDomain</c>).</summary>
    public string Path { get; }

    /// <summary>The token xenstored echoes in each event.</summary>
    public string Token { get; }

    /// <summary>The events kept for a consumer that lags; past this the oldest are dropped and counted.</summary>
    public int Capacity { get; }

    /// <summary>Events dropped because the consumer lagged more than <see cref="Capacity"/>.</summary>
    public long DroppedEvents => Interlocked.Read(ref _dropped);

    /// <summary>The events, for consumers that prefer a channel reader.</summary>
    public ChannelReader<XenstoreWatchEvent> Events => _events.Reader;

    /// <summary>Waits for the next event.</summary>
    /// <exception cref="ChannelClosedException">The watch was disposed or the client closed.</exception>
    public ValueTask<XenstoreWatchEvent> ReadAsync(CancellationToken cancellationToken = default) => _events.Reader.ReadAsync(cancellationToken);

    /// <summary>The events until the watch or client is disposed, or <paramref name="cancellationToken"/> fires.</summary>
    public async IAsyncEnumerable<XenstoreWatchEvent> ReadAllAsync([EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        while (await _events.Reader.WaitToReadAsync(cancellationToken).ConfigureAwait(false))
        {
            while (_events.Reader.TryRead(out XenstoreWatchEvent e))
            {
                yield return e;
            }
        }
    }

    /// <inheritdoc/>
    public IAsyncEnumerator<XenstoreWatchEvent> GetAsyncEnumerator(CancellationToken cancellationToken = default) =>
        ReadAllAsync(cancellationToken).GetAsyncEnumerator(cancellationToken);

    internal void Post(XenstoreWatchEvent e) => _events.Writer.TryWrite(e);

    internal void Complete(Exception? error = null) => _events.Writer.TryComplete(error);

    internal bool IsDisposed => Volatile.Read(ref _disposed) != 0;

    /// <summary>Unregisters the watch (UNWATCH) and ends its event stream.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        await _client.UnwatchAsync(this).ConfigureAwait(false);
    }
}
