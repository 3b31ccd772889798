using System.Runtime.CompilerServices;
using System.Threading.Channels;

namespace VirtualDevices.Xen.Xenstore.Client;

/// <summary>
/// Watches several paths of one client as one stream of <see cref="XenstoreChange"/>s, optionally with each changed
/// node's value, for a limited time or until a condition holds.
/// </summary>
/// <remarks>
/// Back-pressure is bounded end to end. Each path's watch keeps at most
/// <see cref="XenstoreClientOptions.WatchEventCapacity"/> events and drops the oldest past that, counting them; the
/// merge of the paths holds one event, so a slow consumer stops the pumps (each then holds one more event) instead
/// of queueing. At most <c>paths × (capacity + 1) + 1</c> events wait, however fast changes come, and every drop is
/// reported: on the next change delivered (<see cref="XenstoreChange.DroppedBefore"/>) and in
/// <see cref="DroppedChanges"/>.
/// </remarks>
/// <example>
/// <code>
/// await using XenstoreWatcher watcher = await XenstoreWatcher.StartAsync(xs, ["/vm/a", "/vm/b"],
///     new XenstoreWatcherOptions { IncludeValue = true, Timeout = TimeSpan.FromSeconds(10) });
/// XenstoreChange ready = await watcher.WaitUntilAsync((c, ct) => ValueTask.FromResult(c.Value == "ready"));
/// </code>
/// </example>
public sealed class XenstoreWatcher : IAsyncDisposable
{
    private readonly XenstoreClient _client;
    private readonly XenstoreWatcherOptions _options;
    private readonly CancellationTokenSource _deadline;
    private readonly List<XenstoreWatch> _watches = [];
    private readonly List<Task> _pumps = [];

    // Holds one event: a slow consumer blocks the pumps, and the watches' own bounded buffers then drop and count.
    // (An unbounded merge here grew without limit under a write storm while no drop was ever counted.)
    private readonly Channel<XenstoreWatchEvent> _merged =
        Channel.CreateBounded<XenstoreWatchEvent>(new BoundedChannelOptions(1) { SingleReader = true, FullMode = BoundedChannelFullMode.Wait });

    private long _droppedReported;
    private int _disposed;

    private XenstoreWatcher(XenstoreClient client, IReadOnlyList<string> paths, XenstoreWatcherOptions options, CancellationToken cancellationToken)
    {
        _client = client;
        _options = options;
        Paths = paths;
        _deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        if (options.Timeout is TimeSpan timeout)
        {
            _deadline.CancelAfter(timeout);
        }
    }

    /// <summary>The watched paths, in the order given.</summary>
    public IReadOnlyList<string> Paths { get; }

    /// <summary>The events each path's watch keeps for a consumer that lags, past which the oldest are dropped.</summary>
    public int Capacity => _watches.Count > 0 ? _watches[0].Capacity : 0;

    /// <summary>Changes dropped so far because the consumer lagged, on every path (including any not yet reported on a delivered change).</summary>
    public long DroppedChanges
    {
        get
        {
            long dropped = 0;
            foreach (XenstoreWatch watch in _watches)
            {
                dropped += watch.DroppedEvents;
            }

            return dropped;
        }
    }

    /// <summary>Events waiting to be delivered: in the watches' buffers and the merge (tests check the bound).</summary>
    internal int QueuedEvents
    {
        get
        {
            int queued = _merged.Reader.Count;
            foreach (XenstoreWatch watch in _watches)
            {
                queued += watch.Events.Count;
            }

            return queued;
        }
    }

    /// <summary>
    /// Registers a watch on each of <paramref name="paths"/> (each fires once straight away, as xenstored does).
    /// </summary>
    /// <param name="client">The client the watches are registered on.</param>
    /// <param name="paths">The paths; special paths such as <see cref="XenstorePath.ReleaseDomain"/> are allowed.</param>
    /// <param name="options">Whether to read values, and the time limit (which starts now).</param>
    /// <param name="cancellationToken">Stops registering, and later the watching.</param>
    /// <exception cref="XenstoreException">A path is invalid or the watch quota is exhausted.</exception>
    public static async ValueTask<XenstoreWatcher> StartAsync(XenstoreClient client, IReadOnlyList<string> paths,
        XenstoreWatcherOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(client);
        ArgumentNullException.ThrowIfNull(paths);
        if (paths.Count == 0)
        {
            throw new ArgumentException("At least one path is needed.", nameof(paths));
        }

        var watcher = new XenstoreWatcher(client, [.. paths], options ?? new XenstoreWatcherOptions(), cancellationToken);
        try
        {
            foreach (string path in watcher.Paths)
            {
                XenstoreWatch watch = await client.WatchAsync(path, watcher._deadline.Token).ConfigureAwait(false);
                watcher._watches.Add(watch);
                watcher._pumps.Add(watcher.PumpAsync(watch));
            }
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            // The time limit ran out while registering: the stream is empty, and a wait fails.
            watcher._merged.Writer.TryComplete();
        }
        catch
        {
            await watcher.DisposeAsync().ConfigureAwait(false);
            throw;
        }

        return watcher;
    }

    /// <summary>
    /// The changes, in the order their events arrived, until the time limit passes (then the stream simply ends),
    /// <paramref name="cancellationToken"/> fires, or the connection closes (<see cref="DeviceDisconnectedException"/>).
    /// </summary>
    public async IAsyncEnumerable<XenstoreChange> ReadAllAsync([EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        await using IAsyncEnumerator<XenstoreChange> changes = ReadCoreAsync(cancellationToken).GetAsyncEnumerator(cancellationToken);
        while (true)
        {
            try
            {
                if (!await changes.MoveNextAsync().ConfigureAwait(false))
                {
                    yield break;
                }
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                yield break;
            }

            yield return changes.Current;
        }
    }

    /// <summary>
    /// Waits until <paramref name="condition"/> holds for a change (it is called for every change, starting with the
    /// one each watch fires on registration, so a state reached before the wait is seen too).
    /// </summary>
    /// <returns>The change the condition held for.</returns>
    /// <exception cref="DeviceException">XenstoreWaitTimeout (OperationTimeout) when the time limit passes first.</exception>
    public async ValueTask<XenstoreChange> WaitUntilAsync(Func<XenstoreChange, CancellationToken, ValueTask<bool>> condition, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(condition);
        try
        {
            await foreach (XenstoreChange change in ReadCoreAsync(cancellationToken).ConfigureAwait(false))
            {
                if (await condition(change, _deadline.Token).ConfigureAwait(false))
                {
                    return change;
                }
            }
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested && _options.Timeout is not null)
        {
        }

        if (_options.Timeout is TimeSpan timeout && _deadline.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            throw new DeviceException(DeviceErrorIds.Xenstore.WaitTimeout, DeviceErrorCategory.OperationTimeout,
                $"The condition on {string.Join(", ", Paths)} did not hold within {timeout.TotalSeconds} s.", XenstoreException.XenstoreDeviceName);
        }

        cancellationToken.ThrowIfCancellationRequested();
        throw new DeviceDisconnectedException(XenstoreException.XenstoreDeviceName, "the watch ended before the condition held");
    }

    private async IAsyncEnumerable<XenstoreChange> ReadCoreAsync([EnumeratorCancellation] CancellationToken cancellationToken)
    {
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _deadline.Token);
        await foreach (XenstoreWatchEvent e in _merged.Reader.ReadAllAsync(stop.Token).ConfigureAwait(false))
        {
            long dropped = DroppedChanges;
            long droppedBefore = dropped - _droppedReported;
            _droppedReported = dropped;
            yield return await DescribeAsync(e, droppedBefore, stop.Token).ConfigureAwait(false);
        }
    }

    private async ValueTask<XenstoreChange> DescribeAsync(XenstoreWatchEvent e, long droppedBefore, CancellationToken cancellationToken)
    {
        if (!_options.IncludeValue || e.Path.StartsWith('@'))
        {
            return new XenstoreChange(DateTimeOffset.Now, e.Path, e.Token, null, null) { DroppedBefore = droppedBefore };
        }

        string? value = await _client.TryReadStringAsync(e.Path, cancellationToken).ConfigureAwait(false);
        return new XenstoreChange(DateTimeOffset.Now, e.Path, e.Token, value is not null, value) { DroppedBefore = droppedBefore };
    }

    private async Task PumpAsync(XenstoreWatch watch)
    {
        CancellationToken stop = _deadline.Token;
        try
        {
            await foreach (XenstoreWatchEvent e in watch.ReadAllAsync(stop).ConfigureAwait(false))
            {
                await _merged.Writer.WriteAsync(e, stop).ConfigureAwait(false);
            }

            // The watch ended without being stopped: its connection is gone, and so is the watcher's purpose.
            _merged.Writer.TryComplete(new DeviceDisconnectedException(XenstoreException.XenstoreDeviceName, $"the watch on {watch.Path} ended: the connection closed"));
        }
        catch (OperationCanceledException)
        {
        }
        catch (Exception e)
        {
            _merged.Writer.TryComplete(e);
        }
    }

    /// <summary>Unregisters the watches and stops.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        await _deadline.CancelAsync().ConfigureAwait(false);
        foreach (XenstoreWatch watch in _watches)
        {
            await watch.DisposeAsync().ConfigureAwait(false);
        }

        await Task.WhenAll(_pumps).ConfigureAwait(false);
        _deadline.Dispose();
    }
}
