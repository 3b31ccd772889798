using VirtualDevices.Xen.Xenstore;
using VirtualDevices.Xen.Xenstore.Client;
using VirtualDevices.Xen.Xenstore.Server;

namespace VirtualDevices.Tests.Xenstore;

/// <summary>The multi-path watcher: bounded back-pressure with counted drops, waiting for a condition, time limits.</summary>
public sealed class XenstoreWatcherTests
{
    [Fact(Timeout = XenstoreTestTimeouts.Test)]
    public async Task A_slow_consumer_under_a_write_storm_keeps_the_queue_bounded_and_counts_every_drop()
    {
        const int capacity = 16;
        const int writes = 6000;
        string[] paths = ["/storm/a", "/storm/b"];
        await using var server = XenstoreTestServer.Start();
        await using XenstoreClient xs = XenstoreClient.ConnectInProcess(server.Server, 0, new XenstoreClientOptions { WatchEventCapacity = capacity });
        await using XenstoreWatcher watcher = await XenstoreWatcher.StartAsync(xs, paths);
        CancellationToken ct = XenstoreTestTimeouts.Wait(40);
        await using IAsyncEnumerator<XenstoreChange> changes = watcher.ReadAllAsync(ct).GetAsyncEnumerator(ct);
        var received = new List<XenstoreChange>();
        Assert.True(await changes.MoveNextAsync());
        received.Add(changes.Current);

        // The consumer now stops reading while the storm runs. The writes go over the watching connection itself, so
        // the server sends each write's event before its reply: once a write returns, its event has been queued.
        int bound = paths.Length * (capacity + 1) + 1;
        int mostQueued = 0;
        for (int i = 0; i < writes; i++)
        {
            await xs.WriteAsync(paths[i % 2], "v" + i);
            mostQueued = Math.Max(mostQueued, watcher.QueuedEvents);
        }

        Assert.InRange(mostQueued, 1, bound);
        Assert.True(watcher.DroppedChanges >= writes - bound, $"only {watcher.DroppedChanges} of {writes} changes were dropped");

        // Every change that fired (each watch's registration event and one per write) was either delivered or
        // counted, and the drops are reported on the changes delivered after them.
        int fired = paths.Length + writes;
        while (received.Count + watcher.DroppedChanges < fired)
        {
            Assert.True(await changes.MoveNextAsync());
            received.Add(changes.Current);
        }

        Assert.Equal(fired, received.Count + watcher.DroppedChanges);
        Assert.Equal(watcher.DroppedChanges, received.Sum(c => c.DroppedBefore));
        Assert.InRange(received.Count, 2, bound + 1);
        Assert.Equal(0, received[0].DroppedBefore);
    }

    [Fact(Timeout = XenstoreTestTimeouts.Test)]
    public async Task Several_paths_make_one_stream_with_values_and_a_time_limit_ends_it_quietly()
    {
        await using var server = XenstoreTestServer.Start();
        await using XenstoreClient xs = await server.ConnectAsync();
        await xs.WriteAsync("/m/a", "1");
        await using XenstoreWatcher watcher = await XenstoreWatcher.StartAsync(xs, ["/m/a", "/m/b"],
            new XenstoreWatcherOptions { IncludeValue = true, Timeout = TimeSpan.FromSeconds(2) });
        var seen = new List<XenstoreChange>();
        Task writes = Task.Run(async () =>
        {
            await xs.WriteAsync("/m/b/c", "2");
            await xs.WriteAsync("/m/other", "not watched");
            await xs.RemoveAsync("/m/a");
        });

        // Ends when the limit passes, without an error.
        await foreach (XenstoreChange change in watcher.ReadAllAsync(XenstoreTestTimeouts.Wait(20)))
        {
            seen.Add(change);
        }

        await writes;
        // One path's changes keep their order; the paths' streams interleave as their events arrive.
        Assert.Equal(["/m/a", "/m/a", "/m/b", "/m/b/c"], seen.Select(c => c.NodePath).Order(StringComparer.Ordinal));
        Assert.Equal(["/m/b", "/m/b/c"], seen.Select(c => c.NodePath).Where(p => p.StartsWith("/m/b", StringComparison.Ordinal)));
        XenstoreChange written = seen.Single(c => c.NodePath == "/m/b/c");
        Assert.True(written.Exists);
        Assert.Equal("2", written.Value);
        XenstoreChange removed = seen.Last(c => c.NodePath == "/m/a");
        Assert.False(removed.Exists);
        Assert.Null(removed.Value);
        Assert.All(seen, c => Assert.Equal(0, c.DroppedBefore));
    }

    [Fact(Timeout = XenstoreTestTimeouts.Test)]
    public async Task Waiting_returns_the_change_the_condition_holds_for()
    {
        await using var server = XenstoreTestServer.Start();
        await using XenstoreClient xs = await server.ConnectAsync();
        await using XenstoreClient writer = await server.ConnectAsync();
        await using XenstoreWatcher watcher = await XenstoreWatcher.StartAsync(xs, ["/vm/state", "/vm/other"],
            new XenstoreWatcherOptions { IncludeValue = true, Timeout = TimeSpan.FromSeconds(20) });
        int evaluated = 0;
        Task<XenstoreChange> wait = watcher.WaitUntilAsync((change, _) =>
        {
            Interlocked.Increment(ref evaluated);
            return ValueTask.FromResult(change.NodePath == "/vm/state" && change.Value == "ready");
        }).AsTask();
        await writer.WriteAsync("/vm/state", "starting");
        await writer.WriteAsync("/vm/other", "ready");
        Assert.False(wait.IsCompleted);
        await writer.WriteAsync("/vm/state", "ready");

        XenstoreChange satisfied = await wait.WaitAsync(XenstoreTestTimeouts.Wait());
        Assert.Equal("/vm/state", satisfied.NodePath);
        Assert.Equal("ready", satisfied.Value);
        // Evaluated at least once, at most once per event (two registrations and three writes). Not necessarily for
        // each write: a value is read when its change is delivered, so a lagging consumer may already read "ready"
        // on an earlier event of the path (a CI run saw that).
        Assert.InRange(Volatile.Read(ref evaluated), 1, 5);
    }

    [Fact(Timeout = XenstoreTestTimeouts.Test)]
    public async Task Waiting_past_the_time_limit_fails_with_a_typed_timeout()
    {
        await using var server = XenstoreTestServer.Start();
        await using XenstoreClient xs = await server.ConnectAsync();
        await using XenstoreWatcher watcher = await XenstoreWatcher.StartAsync(xs, ["/never"],
            new XenstoreWatcherOptions { IncludeValue = true, Timeout = TimeSpan.FromMilliseconds(300) });

        DeviceException e = await Assert.ThrowsAsync<DeviceException>(
            async () => await watcher.WaitUntilAsync((change, _) => ValueTask.FromResult(change.Value == "never written")));
        Assert.Equal("XenstoreWaitTimeout", e.ErrorId);
        Assert.Equal(DeviceErrorCategory.OperationTimeout, e.Category);
        Assert.Contains("/never", e.Message, StringComparison.Ordinal);
    }

    [Fact(Timeout = XenstoreTestTimeouts.Test)]
    public async Task A_closed_connection_ends_the_stream_with_a_disconnection_error()
    {
        await using var server = XenstoreTestServer.Start();
        XenstoreClient xs = XenstoreClient.ConnectInProcess(server.Server);
        await using XenstoreWatcher watcher = await XenstoreWatcher.StartAsync(xs, ["/gone"]);
        CancellationToken ct = XenstoreTestTimeouts.Wait();
        await using IAsyncEnumerator<XenstoreChange> changes = watcher.ReadAllAsync(ct).GetAsyncEnumerator(ct);
        Assert.True(await changes.MoveNextAsync());
        await xs.DisposeAsync();

        await Assert.ThrowsAsync<DeviceDisconnectedException>(async () => await changes.MoveNextAsync());
    }
}

/// <summary>The server's watch table: keyed registration and removal, counted per domain.</summary>
public sealed class XenstoreServerWatchTableTests
{
    [Fact(Timeout = XenstoreTestTimeouts.Test)]
    public async Task Watches_removed_out_of_order_free_their_quota_and_the_others_keep_firing()
    {
        // The table finds a watch to remove by its (path, token) key and unlinks it from the firing list in O(1)
        // (a scan per removal was quadratic: see the xenstore-watches benchmark); this checks that what it removes
        // is exactly that watch: the quota counts it free again and every other watch still fires.
        const int quota = 400;
        await using var server = XenstoreTestServer.Start(new XenstoreServerOptions { MaxWatchesPerDomain = quota });
        server.Server.IntroduceDomain(1);
        await using XenstoreClient dom0 = await server.ConnectAsync();
        await dom0.WriteAsync("/local/domain/1", "");
        await dom0.SetPermissionsAsync("/local/domain/1", XenstorePermissions.Parse("n1"));
        using XenstoreClient dom1 = server.ConnectAsDomain(1);
        var watches = new List<XenstoreWatch>();
        for (int i = 0; i < quota; i++)
        {
            watches.Add(await dom1.WatchAsync("w" + i));
        }

        Assert.Equal("E2BIG", (await Assert.ThrowsAsync<XenstoreException>(() => dom1.WatchAsync("one-too-many").AsTask())).ErrorName);
        for (int i = 0; i < quota; i += 2)
        {
            await watches[i].DisposeAsync();
        }

        for (int i = 0; i < quota / 2; i++)
        {
            watches[2 * i] = await dom1.WatchAsync("again" + i);
        }

        Assert.Equal("E2BIG", (await Assert.ThrowsAsync<XenstoreException>(() => dom1.WatchAsync("still-too-many").AsTask())).ErrorName);
        await dom1.WriteAsync("w399", "fires");
        CancellationToken ct = XenstoreTestTimeouts.Wait();
        Assert.Equal("w399", (await watches[399].ReadAsync(ct)).Path);
        Assert.Equal("w399", (await watches[399].ReadAsync(ct)).Path);
        foreach (XenstoreWatch watch in watches)
        {
            await watch.DisposeAsync();
        }
    }
}
