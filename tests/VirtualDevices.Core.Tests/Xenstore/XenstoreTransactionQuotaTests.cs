using VirtualDevices.Xen.Xenstore;
using VirtualDevices.Xen.Xenstore.Client;
using VirtualDevices.Xen.Xenstore.Server;

namespace VirtualDevices.Tests.Xenstore;

/// <summary>
/// What one transaction may hold: xenstored's per-transaction node quota (<c>transaction-nodes</c>, 1024 nodes read or
/// changed, unprivileged domains only, ENOSPC beyond it, the transaction then failing its commit with ENOMEM), and a
/// server memory that stays bounded however often a transaction rewrites the nodes it holds.
/// </summary>
[Collection(XenstoreMemoryCollection.Name)]
public sealed class XenstoreTransactionQuotaTests
{
    private const int Guest = 9;

    private static async Task<XenstoreClient> GuestWithHomeAsync(XenstoreTestServer server, XenstoreClient dom0)
    {
        await dom0.MakeDirectoryAsync($"/local/domain/{Guest}");
        await dom0.SetPermissionsAsync($"/local/domain/{Guest}", XenstorePermissions.Parse($"n{Guest}"));
        return server.ConnectAsDomain(Guest);
    }

    private static byte[] Value(int i, int length = 2000)
    {
        byte[] value = new byte[length];
        Array.Fill(value, (byte)('a' + (i % 26)));
        BitConverter.TryWriteBytes(value, i);
        return value;
    }

    [Fact(Timeout = 120_000)]
    public async Task Rewriting_one_node_60000_times_in_one_transaction_keeps_server_memory_bounded()
    {
        // The hostile run: an unprivileged domain rewrites its own node with 2,000-byte values in one open
        // transaction. Every rewrite was logged for the commit: +157 MiB for 60,000. As in xenstored (one accessed
        // node, however often written), it stays one node: no error, and the server holds one value, not 60,000.
        await using var server = XenstoreTestServer.Start();
        await using XenstoreClient dom0 = await server.ConnectAsync();
        using XenstoreClient guest = await GuestWithHomeAsync(server, dom0);
        await guest.WriteAsync("data", "start");

        await using XenstoreTransaction tx = await guest.BeginTransactionAsync();
        await tx.WriteAsync("data", Value(0));
        long before = GC.GetTotalMemory(forceFullCollection: true);
        const int Rewrites = 60_000;
        for (int i = 1; i < Rewrites; i++)
        {
            await tx.WriteAsync("data", Value(i));
        }

        long grown = GC.GetTotalMemory(forceFullCollection: true) - before;
        Assert.True(grown < 16L << 20, $"the open transaction grew the heap by {grown >> 20} MiB");

        // Still a working transaction: it sees its last value, and commits it.
        Assert.Equal(Value(Rewrites - 1), await tx.ReadAsync("data"));
        Assert.Equal("start", await guest.ReadStringAsync("data"));
        await tx.CommitAsync();
        Assert.Equal(Value(Rewrites - 1), await guest.ReadAsync("data"));
    }

    [Fact(Timeout = XenstoreTestTimeouts.Test)]
    public async Task An_unprivileged_transaction_that_touches_more_than_1024_nodes_gets_ENOSPC_and_its_commit_applies_nothing()
    {
        // Room for 5,000 owned nodes, so that the domain's node quota (1,000) is not what stops it.
        await using var server = XenstoreTestServer.Start(new XenstoreServerOptions { MaxEntriesPerDomain = 5000 });
        await using XenstoreClient dom0 = await server.ConnectAsync();
        using XenstoreClient guest = await GuestWithHomeAsync(server, dom0);

        XenstoreTransaction tx = await guest.BeginTransactionAsync();
        XenstoreException? refused = null;
        int written = 0;
        for (int i = 0; i < 2000 && refused is null; i++)
        {
            try
            {
                await tx.WriteAsync($"n{i}", Value(i, 100));
                written++;
            }
            catch (XenstoreException e)
            {
                refused = e;
            }
        }

        // The first write touches the new node and its parent (the home node, whose children change), each later
        // one its new node: 1 + 1,023 = 1,024 nodes, xenstored's default, as xenstored counts them.
        Assert.NotNull(refused);
        Assert.Equal(1023, written);
        Assert.Equal("ENOSPC", refused.ErrorName);
        Assert.Equal("XenstoreQuotaExceeded", refused.ErrorId);
        Assert.Equal(DeviceErrorCategory.LimitsExceeded, refused.Category);

        // Nodes the transaction already holds are still free to read and rewrite (they do not count again).
        await tx.WriteAsync("n0", "rewritten");
        Assert.Equal("rewritten", await tx.ReadStringAsync("n0"));
        Assert.Equal("ENOSPC", (await Assert.ThrowsAsync<XenstoreException>(() => tx.ReadAsync("never-touched").AsTask())).ErrorName);

        // xenstored fails the commit of a transaction a request failed in (ENOMEM), and nothing of it is applied.
        XenstoreException commit = await Assert.ThrowsAsync<XenstoreException>(() => tx.CommitAsync().AsTask());
        Assert.Equal("ENOMEM", commit.ErrorName);
        Assert.Equal(DeviceErrorCategory.LimitsExceeded, commit.Category);
        Assert.Empty(await guest.ListAsync($"/local/domain/{Guest}"));

        // The quota was the transaction's, not the domain's: a new transaction is served, and commits.
        await using XenstoreTransaction again = await guest.BeginTransactionAsync();
        await again.WriteAsync("n0", "fresh");
        await again.CommitAsync();
        Assert.Equal("fresh", await guest.ReadStringAsync("n0"));
    }

    [Fact(Timeout = XenstoreTestTimeouts.Test)]
    public async Task Reads_count_and_the_quota_is_configurable_and_an_aborted_transaction_ends_normally()
    {
        await using var server = XenstoreTestServer.Start(new XenstoreServerOptions { MaxTransactionNodes = 50 });
        await using XenstoreClient dom0 = await server.ConnectAsync();
        await dom0.MakeDirectoryAsync("/shared");
        await dom0.SetPermissionsAsync("/shared", XenstorePermissions.Parse($"n0 r{Guest}"));
        for (int i = 0; i < 60; i++)
        {
            await dom0.WriteAsync($"/shared/{i}", $"v{i}");
        }

        using XenstoreClient guest = server.ConnectAsDomain(Guest);

        XenstoreTransaction tx = await guest.BeginTransactionAsync();
        for (int i = 0; i < 50; i++)
        {
            Assert.Equal($"v{i}", await tx.ReadStringAsync($"/shared/{i}"));
        }

        Assert.Equal("v3", await tx.ReadStringAsync("/shared/3"));
        XenstoreException refused = await Assert.ThrowsAsync<XenstoreException>(() => tx.ReadAsync("/shared/50").AsTask());
        Assert.Equal("ENOSPC", refused.ErrorName);
        await tx.AbortAsync();

        // dom0 is not bound by it (xenstored checks it for unprivileged domains only).
        await using XenstoreTransaction privileged = await dom0.BeginTransactionAsync();
        for (int i = 0; i < 60; i++)
        {
            await privileged.WriteAsync($"/shared/{i}", $"w{i}");
        }

        await privileged.CommitAsync();
        Assert.Equal("w59", await dom0.ReadStringAsync("/shared/59"));
    }

    [Fact(Timeout = XenstoreTestTimeouts.Test)]
    public async Task A_node_removed_and_rewritten_over_and_over_is_bounded_by_the_same_quota()
    {
        // Each removal ends what a rewrite may replace, so a remove/write loop on one node is the one pattern that
        // cannot fold into one logged change; the log it needs is held to the quota too. (xenstored, which keeps a
        // node's state rather than a log, lets this loop run: the one place this server is stricter.)
        await using var server = XenstoreTestServer.Start(new XenstoreServerOptions { MaxTransactionNodes = 40 });
        await using XenstoreClient dom0 = await server.ConnectAsync();
        using XenstoreClient guest = await GuestWithHomeAsync(server, dom0);

        XenstoreTransaction tx = await guest.BeginTransactionAsync();
        XenstoreException? refused = null;
        int rounds = 0;
        for (; rounds < 1000 && refused is null; rounds++)
        {
            try
            {
                await tx.WriteAsync("flip", Value(rounds));
                await tx.RemoveAsync("flip");
            }
            catch (XenstoreException e)
            {
                refused = e;
            }
        }

        Assert.NotNull(refused);
        Assert.Equal("ENOSPC", refused.ErrorName);
        Assert.InRange(rounds, 15, 25);
        await tx.AbortAsync();
    }

    [Fact(Timeout = XenstoreTestTimeouts.Test)]
    public async Task Rewrites_folded_into_one_change_replay_exactly_when_the_commit_merges()
    {
        // The same changes committed twice: once on an unchanged tree (the transaction's tree becomes the live one),
        // once after an unrelated outside change (the logged changes are replayed on the live tree). Both must end
        // alike, whatever removals and creations come between the rewrites.
        await using var server = XenstoreTestServer.Start();
        await using XenstoreClient dom0 = await server.ConnectAsync();
        using XenstoreClient guest = await GuestWithHomeAsync(server, dom0);
        string home = $"/local/domain/{Guest}";

        async Task<Dictionary<string, string>> RunAsync(string root, bool merge)
        {
            await guest.WriteAsync($"{root}/kept", "old");
            await guest.WriteAsync($"{root}/gone/child", "old");
            await using XenstoreTransaction tx = await guest.BeginTransactionAsync();
            await tx.WriteAsync($"{root}/a", "1");
            await tx.WriteAsync($"{root}/a/child", "c1");
            await tx.WriteAsync($"{root}/a", "2");
            await tx.RemoveAsync($"{root}/a/child");
            await tx.WriteAsync($"{root}/a", "3");
            await tx.WriteAsync($"{root}/b", "1");
            await tx.RemoveAsync($"{root}/b");
            await tx.WriteAsync($"{root}/b/deep", "d");
            await tx.WriteAsync($"{root}/b", "2");
            await tx.RemoveAsync($"{root}/gone");
            await tx.WriteAsync($"{root}/gone/child", "new");
            await tx.WriteAsync($"{root}/kept", "new");
            await tx.WriteAsync($"{root}/kept", "newer");
            if (merge)
            {
                await dom0.WriteAsync("/elsewhere", root);
            }

            await tx.CommitAsync();
            var result = new Dictionary<string, string>(StringComparer.Ordinal);
            await CollectAsync(root, "");
            return result;

            async Task CollectAsync(string path, string relative)
            {
                foreach (string child in await guest.ListAsync(path))
                {
                    result[$"{relative}/{child}"] = await guest.ReadStringAsync($"{path}/{child}");
                    await CollectAsync($"{path}/{child}", $"{relative}/{child}");
                }
            }
        }

        Dictionary<string, string> direct = await RunAsync($"{home}/direct", merge: false);
        Dictionary<string, string> merged = await RunAsync($"{home}/merged", merge: true);
        Assert.Equal(direct.OrderBy(p => p.Key, StringComparer.Ordinal), merged.OrderBy(p => p.Key, StringComparer.Ordinal));
        Assert.Equal("3", merged["/a"]);
        Assert.False(merged.ContainsKey("/a/child"));
        Assert.Equal("2", merged["/b"]);
        Assert.Equal("d", merged["/b/deep"]);
        Assert.Equal("new", merged["/gone/child"]);
        Assert.Equal("newer", merged["/kept"]);
    }
}
