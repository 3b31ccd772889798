using System.Globalization;
using VirtualDevices.Xen.Xenstore;
using VirtualDevices.Xen.Xenstore.Client;

namespace VirtualDevices.Tests.Xenstore;

/// <summary>Transactions: isolation, commit, abort, conflicts (EAGAIN) and the retrying runner.</summary>
public sealed class XenstoreTransactionTests
{
    [Fact(Timeout = XenstoreTestTimeouts.Test)]
    public async Task Changes_are_private_until_commit()
    {
        await using var server = XenstoreTestServer.Start();
        await using XenstoreClient xs = await server.ConnectAsync();
        await xs.WriteAsync("/t/a", "before");

        await using XenstoreTransaction tx = await xs.BeginTransactionAsync();
        await tx.WriteAsync("/t/a", "inside");
        await tx.WriteAsync("/t/new/deep", "created");
        await tx.RemoveAsync("/t/gone");
        Assert.Equal("inside", await tx.ReadStringAsync("/t/a"));
        Assert.Equal("before", await xs.ReadStringAsync("/t/a"));
        Assert.False(await xs.ExistsAsync("/t/new"));
        Assert.Equal(["a", "new"], (await tx.ListAsync("/t")).Order(StringComparer.Ordinal));

        await tx.CommitAsync();
        Assert.Equal("inside", await xs.ReadStringAsync("/t/a"));
        Assert.Equal("created", await xs.ReadStringAsync("/t/new/deep"));
    }

    [Fact(Timeout = XenstoreTestTimeouts.Test)]
    public async Task Abort_discards_changes()
    {
        await using var server = XenstoreTestServer.Start();
        await using XenstoreClient xs = await server.ConnectAsync();
        XenstoreTransaction tx = await xs.BeginTransactionAsync();
        await tx.WriteAsync("/t/x", "1");
        await tx.AbortAsync();
        Assert.True(tx.IsCompleted);
        Assert.False(await xs.ExistsAsync("/t/x"));

        // An unknown transaction id is ENOENT.
        Assert.Equal("ENOENT", (await Assert.ThrowsAsync<XenstoreException>(() => tx.ReadAsync("/t").AsTask())).ErrorName);
    }

    [Fact(Timeout = XenstoreTestTimeouts.Test)]
    public async Task A_conflicting_change_fails_the_commit_with_EAGAIN()
    {
        await using var server = XenstoreTestServer.Start();
        await using XenstoreClient xs = await server.ConnectAsync();
        await using XenstoreClient other = await server.ConnectAsync();
        await xs.WriteAsync("/c/value", "a");

        XenstoreTransaction tx = await xs.BeginTransactionAsync();
        Assert.Equal("a", await tx.ReadStringAsync("/c/value"));
        await other.WriteAsync("/c/value", "b");
        await tx.WriteAsync("/c/value", "c");
        var conflict = await Assert.ThrowsAsync<XenstoreException>(() => tx.CommitAsync().AsTask());
        Assert.True(conflict.IsTransactionConflict);
        Assert.Equal("XenstoreTransactionConflict", conflict.ErrorId);
        Assert.Equal(DeviceErrorCategory.ResourceBusy, conflict.Category);
        Assert.Equal("b", await xs.ReadStringAsync("/c/value"));
    }

    [Fact(Timeout = XenstoreTestTimeouts.Test)]
    public async Task Unrelated_changes_do_not_conflict_and_are_merged()
    {
        await using var server = XenstoreTestServer.Start();
        await using XenstoreClient xs = await server.ConnectAsync();
        await using XenstoreClient other = await server.ConnectAsync();
        await xs.WriteAsync("/m/mine", "0");
        await xs.WriteAsync("/m/theirs", "0");

        XenstoreTransaction tx = await xs.BeginTransactionAsync();
        await tx.WriteAsync("/m/mine", "tx");
        await other.WriteAsync("/m/theirs", "outside");
        await tx.CommitAsync();
        Assert.Equal("tx", await xs.ReadStringAsync("/m/mine"));
        Assert.Equal("outside", await xs.ReadStringAsync("/m/theirs"));
    }

    [Fact(Timeout = XenstoreTestTimeouts.Test)]
    public async Task Run_in_transaction_retries_conflicts_so_concurrent_increments_are_exact()
    {
        await using var server = XenstoreTestServer.Start();
        await using XenstoreClient a = await server.ConnectAsync();
        await using XenstoreClient b = await server.ConnectAsync();
        await a.WriteAsync("/counter", "0");
        int attempts = 0;

        async Task IncrementAsync(XenstoreClient client, int times)
        {
            for (int i = 0; i < times; i++)
            {
                await client.RunInTransactionAsync(async (tx, ct) =>
                {
                    Interlocked.Increment(ref attempts);
                    int value = int.Parse(await tx.ReadStringAsync("/counter", ct), CultureInfo.InvariantCulture);
                    await Task.Yield();
                    await tx.WriteAsync("/counter", (value + 1).ToString(CultureInfo.InvariantCulture), ct);
                }, new XenstoreTransactionOptions { MaxAttempts = 1000, InitialBackoff = TimeSpan.FromMilliseconds(0.2), MaxBackoff = TimeSpan.FromMilliseconds(5) });
            }
        }

        await Task.WhenAll(IncrementAsync(a, 100), IncrementAsync(b, 100), IncrementAsync(a, 100));
        Assert.Equal("300", await a.ReadStringAsync("/counter"));
        Assert.True(attempts >= 300);
    }

    [Fact(Timeout = XenstoreTestTimeouts.Test)]
    public async Task Run_in_transaction_gives_up_after_the_bound_and_honours_cancellation()
    {
        await using var server = XenstoreTestServer.Start();
        await using XenstoreClient xs = await server.ConnectAsync();
        await using XenstoreClient spoiler = await server.ConnectAsync();
        await xs.WriteAsync("/hot", "0");
        int attempts = 0;
        var options = new XenstoreTransactionOptions { MaxAttempts = 4, InitialBackoff = TimeSpan.FromMilliseconds(1) };

        var e = await Assert.ThrowsAsync<XenstoreException>(() => xs.RunInTransactionAsync(async (tx, ct) =>
        {
            attempts++;
            await tx.ReadAsync("/hot", ct);
            await spoiler.WriteAsync("/hot", attempts.ToString(CultureInfo.InvariantCulture), ct);
            await tx.WriteAsync("/hot", "mine", ct);
        }, options).AsTask());
        Assert.True(e.IsTransactionConflict);
        Assert.Equal(4, attempts);

        using var cancelled = new CancellationTokenSource(TimeSpan.FromMilliseconds(50));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => xs.RunInTransactionAsync(async (tx, ct) =>
        {
            await tx.ReadAsync("/hot", ct);
            await spoiler.WriteAsync("/hot", "x", CancellationToken.None);
        }, new XenstoreTransactionOptions { MaxAttempts = int.MaxValue, InitialBackoff = TimeSpan.FromMilliseconds(5) }, cancelled.Token).AsTask());

        // Failures other than conflicts abort and propagate at once; nothing is left behind.
        await Assert.ThrowsAsync<InvalidOperationException>(() => xs.RunInTransactionAsync<int>(async (tx, ct) =>
        {
            await tx.WriteAsync("/never", "x", ct);
            throw new InvalidOperationException("body failed");
        }).AsTask());
        Assert.False(await xs.ExistsAsync("/never"));
    }
}
