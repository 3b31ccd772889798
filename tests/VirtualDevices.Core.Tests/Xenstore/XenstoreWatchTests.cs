using VirtualDevices.Xen.Xenstore;
using VirtualDevices.Xen.Xenstore.Client;

namespace VirtualDevices.Tests.Xenstore;

/// <summary>Watch semantics: first firing, subtree coverage, removal, transactions, special paths, waiting, reconnection.</summary>
public sealed class XenstoreWatchTests
{
    private static async Task<List<string>> NextPathsAsync(XenstoreWatch watch, int count)
    {
        var paths = new List<string>();
        CancellationToken ct = XenstoreTestTimeouts.Wait();
        while (paths.Count < count)
        {
            paths.Add((await watch.ReadAsync(ct)).Path);
        }

        return paths;
    }

    /// <summary>Proves no event is pending: a marker write afterwards must be the very next event.</summary>
    private static async Task AssertNoEventBeforeMarkerAsync(XenstoreClient writer, XenstoreWatch watch, string markerPath, string? reportedPath = null)
    {
        await writer.WriteAsync(markerPath, "marker");
        Assert.Equal(reportedPath ?? markerPath, (await watch.ReadAsync(XenstoreTestTimeouts.Wait())).Path);
    }

    [Fact(Timeout = XenstoreTestTimeouts.Test)]
    public async Task A_watch_fires_on_registration_and_for_its_subtree_only()
    {
        await using var server = XenstoreTestServer.Start();
        await using XenstoreClient xs = await server.ConnectAsync();
        await using XenstoreClient writer = await server.ConnectAsync();
        await using XenstoreWatch watch = await xs.WatchAsync("/w");
        XenstoreWatchEvent first = await watch.ReadAsync(XenstoreTestTimeouts.Wait());
        Assert.Equal("/w", first.Path);
        Assert.Equal(watch.Token, first.Token);

        await writer.WriteAsync("/w/a/b", "1");
        await writer.WriteAsync("/other", "x");
        await writer.WriteAsync("/wx", "not a child of /w");
        await writer.SetPermissionsAsync("/w/a", XenstorePermissions.Parse("n0 r1"));
        await writer.MakeDirectoryAsync("/w/dir");
        Assert.Equal(["/w/a/b", "/w/a", "/w/dir"], await NextPathsAsync(watch, 3));
        await AssertNoEventBeforeMarkerAsync(writer, watch, "/w/marker");
    }

    [Fact(Timeout = XenstoreTestTimeouts.Test)]
    public async Task Removing_a_parent_fires_watches_inside_it_with_their_own_path()
    {
        await using var server = XenstoreTestServer.Start();
        await using XenstoreClient xs = await server.ConnectAsync();
        await xs.WriteAsync("/p/q/r", "1");
        await using XenstoreWatch inner = await xs.WatchAsync("/p/q/r");
        await using XenstoreWatch outer = await xs.WatchAsync("/");
        await NextPathsAsync(inner, 1);
        await NextPathsAsync(outer, 1);

        await xs.RemoveAsync("/p");
        Assert.Equal(["/p/q/r"], await NextPathsAsync(inner, 1));
        Assert.Equal(["/p"], await NextPathsAsync(outer, 1));
    }

    [Fact(Timeout = XenstoreTestTimeouts.Test)]
    public async Task Transaction_changes_fire_on_commit_only()
    {
        await using var server = XenstoreTestServer.Start();
        await using XenstoreClient xs = await server.ConnectAsync();
        await using XenstoreWatch watch = await xs.WatchAsync("/tx");
        await NextPathsAsync(watch, 1);

        XenstoreTransaction aborted = await xs.BeginTransactionAsync();
        await aborted.WriteAsync("/tx/aborted", "1");
        await aborted.AbortAsync();

        XenstoreTransaction tx = await xs.BeginTransactionAsync();
        await tx.WriteAsync("/tx/a", "1");
        await tx.WriteAsync("/tx/b", "2");
        Assert.False(watch.Events.TryRead(out _));
        await tx.CommitAsync();
        Assert.Equal(["/tx/a", "/tx/b"], await NextPathsAsync(watch, 2));
        await AssertNoEventBeforeMarkerAsync(xs, watch, "/tx/marker");
    }

    [Fact(Timeout = XenstoreTestTimeouts.Test)]
    public async Task Relative_watches_report_relative_paths_and_unreadable_nodes_are_not_reported()
    {
        await using var server = XenstoreTestServer.Start();
        await using XenstoreClient dom0 = await server.ConnectAsync();
        await dom0.MakeDirectoryAsync("/local/domain/4");
        await dom0.SetPermissionsAsync("/local/domain/4", XenstorePermissions.Parse("n4"));
        using XenstoreClient guest = server.ConnectAsDomain(4);
        await using XenstoreWatch watch = await guest.WatchAsync("device");
        Assert.Equal("device", (await watch.ReadAsync(XenstoreTestTimeouts.Wait())).Path);

        await dom0.WriteAsync("/local/domain/4/device/vif/0/state", "1");
        Assert.Equal("device/vif/0/state", (await watch.ReadAsync(XenstoreTestTimeouts.Wait())).Path);

        // Created by dom0 under dom4's home, the node inherits dom4's ownership: dom4 hears of it. Once made
        // unreadable to dom4, changes to it no longer reach dom4: the marker is the next event.
        await dom0.WriteAsync("/local/domain/4/device/private", "x");
        Assert.Equal("device/private", (await watch.ReadAsync(XenstoreTestTimeouts.Wait())).Path);
        await dom0.SetPermissionsAsync("/local/domain/4/device/private", XenstorePermissions.Parse("n0"));
        await dom0.WriteAsync("/local/domain/4/device/private", "y");
        await AssertNoEventBeforeMarkerAsync(dom0, watch, "/local/domain/4/device/marker", "device/marker");
    }

    [Fact(Timeout = XenstoreTestTimeouts.Test)]
    public async Task Special_watches_fire_on_introduce_and_release()
    {
        await using var server = XenstoreTestServer.Start();
        await using XenstoreClient xs = await server.ConnectAsync();
        await using XenstoreWatch introduce = await xs.WatchAsync(XenstorePath.IntroduceDomain);
        await using XenstoreWatch release = await xs.WatchAsync(XenstorePath.ReleaseDomain);
        await NextPathsAsync(introduce, 1);
        await NextPathsAsync(release, 1);

        await xs.IntroduceDomainAsync(12, 1, 1);
        Assert.Equal([XenstorePath.IntroduceDomain], await NextPathsAsync(introduce, 1));
        Assert.True(server.Server.IntroduceDomain(13));
        Assert.Equal([XenstorePath.IntroduceDomain], await NextPathsAsync(introduce, 1));

        // Releasing a domain also closes its connections.
        using XenstoreClient guest = server.ConnectAsDomain(12);
        await guest.GetDomainPathAsync(12);
        await xs.ReleaseDomainAsync(12);
        Assert.Equal([XenstorePath.ReleaseDomain], await NextPathsAsync(release, 1));
        await Assert.ThrowsAnyAsync<DeviceException>(async () =>
        {
            for (int i = 0; i < 100; i++)
            {
                await guest.GetDomainPathAsync(12);
                await Task.Delay(20);
            }
        });
    }

    [Fact(Timeout = XenstoreTestTimeouts.Test)]
    public async Task Unwatch_stops_events_and_ends_the_stream()
    {
        await using var server = XenstoreTestServer.Start();
        await using XenstoreClient xs = await server.ConnectAsync();
        XenstoreWatch watch = await xs.WatchAsync("/u");
        await NextPathsAsync(watch, 1);
        await watch.DisposeAsync();
        await xs.WriteAsync("/u/x", "1");
        var events = new List<XenstoreWatchEvent>();
        await foreach (XenstoreWatchEvent e in watch.ReadAllAsync(XenstoreTestTimeouts.Wait()))
        {
            events.Add(e);
        }

        Assert.Empty(events);

        // The async-stream form registers on enumeration and unregisters when enumeration stops.
        await foreach (XenstoreWatchEvent e in xs.WatchEventsAsync("/s", XenstoreTestTimeouts.Wait()))
        {
            Assert.Equal("/s", e.Path);
            break;
        }

        await xs.ResetWatchesAsync();
    }

    [Fact(Timeout = XenstoreTestTimeouts.Test)]
    public async Task Wait_for_condition_is_re_evaluated_on_events_and_times_out()
    {
        await using var server = XenstoreTestServer.Start();
        await using XenstoreClient xs = await server.ConnectAsync();
        await using XenstoreClient backend = await server.ConnectAsync();

        Task<byte[]?> waiting = xs.WaitForAsync("/dev/state", v => v is not null && v.AsSpan().SequenceEqual("4"u8), TimeSpan.FromSeconds(10)).AsTask();
        await backend.WriteAsync("/dev/state", "1");
        await backend.WriteAsync("/dev/other", "x");
        Assert.False(waiting.IsCompleted);
        await backend.WriteAsync("/dev/state", "4");
        Assert.Equal("4"u8.ToArray(), await waiting);

        var timeout = await Assert.ThrowsAsync<XenstoreException>(() =>
            xs.WaitForAsync("/dev/state", v => v is null, TimeSpan.FromMilliseconds(200)).AsTask());
        Assert.Equal("ETIMEDOUT", timeout.ErrorName);
        Assert.Equal(DeviceErrorCategory.OperationTimeout, timeout.Category);
    }

    [Fact(Timeout = XenstoreTestTimeouts.Test)]
    public async Task Client_reconnects_after_a_server_restart_and_its_watches_fire_again()
    {
        await using var server = XenstoreTestServer.Start();
        await using XenstoreClient xs = await server.ConnectAsync();
        await using XenstoreWatch watch = await xs.WatchAsync("/restart");
        await NextPathsAsync(watch, 1);
        await xs.WriteAsync("/restart/before", "1");
        await NextPathsAsync(watch, 1);

        await server.RestartAsync();

        // Requests wait for the new connection; the re-registered watch fires once on registration.
        await xs.WriteAsync("/restart/after", "2", XenstoreTestTimeouts.Wait());
        Assert.Equal(1, xs.ReconnectCount);
        var seen = new List<string>();
        CancellationToken ct = XenstoreTestTimeouts.Wait();
        await using XenstoreClient other = await server.ConnectAsync();
        await other.WriteAsync("/restart/from-other", "3", ct);
        while (!seen.Contains("/restart/from-other"))
        {
            seen.Add((await watch.ReadAsync(ct)).Path);
        }

        Assert.Contains("/restart", seen);
        Assert.Equal("2", await xs.ReadStringAsync("/restart/after"));
        Assert.False(await xs.ExistsAsync("/restart/before"));
    }
}
