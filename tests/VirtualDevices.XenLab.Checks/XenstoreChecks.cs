using System.Text;
using VirtualDevices.Xen.Xenstore;
using VirtualDevices.Xen.Xenstore.Client;
using VirtualDevices.Xen.Xenstore.Protocol;

namespace VirtualDevices.XenLab.Checks;

/// <summary>
/// Every operation of our xenstore client against the real daemon of this dom0 (C xenstored or oxenstored), over
/// one transport (xenstored's unix socket, or /dev/xen/xenbus, the kernel's ring to the daemon). Where libxenstore's
/// own tools can see the same thing (xenstore-read/-write/-ls), the two clients are compared.
/// </summary>
internal sealed class XenstoreChecks(CheckRunner runner, string transport, Func<XenstoreClient> connect)
{
    private static readonly TimeSpan EventWait = TimeSpan.FromSeconds(20);
    private readonly string _root = "/vdlab/" + transport;
    private XenstoreClient? _client;

    /// <summary>The connection the checks share. A check that loses it fails; the next one gets a new connection
    /// (and says so), so one failure does not take every later check with it.</summary>
    private XenstoreClient Xs => _client!;

    public async Task RunAsync()
    {
        await Check("connect", async ct =>
        {
            _client = connect();
            Expect.True(Xs.IsConnected, "connected");
            string name = await Xs.ReadStringAsync("/local/domain/0/name", ct);
            Expect.Equal("Domain-0", name, "/local/domain/0/name");
            if (await Xs.ExistsAsync(_root, ct))
            {
                await Xs.RemoveAsync(_root, ct);
            }

            await Xs.MakeDirectoryAsync(_root, ct);
            return $"{Xs.Endpoint}, dom0 is {name}";
        });
        if (_client is null)
        {
            return;
        }

        try
        {
            await RunOperationsAsync();
            await RunTransactionsAsync();
            await RunWatchesAsync();
            await RunDomainsAsync();
        }
        finally
        {
            await _client.DisposeAsync();
        }
    }

    private async Task Check(string name, Func<CancellationToken, Task<string>> body, TimeSpan? limit = null)
    {
        string? renewed = null;
        if (_client is { IsConnected: false })
        {
            await _client.DisposeAsync();
            _client = connect();
            renewed = "new connection (the previous check lost it); ";
        }

        await runner.RunAsync($"xenstore.{transport}.{name}", async ct => renewed + await body(ct), limit);
    }

    private string P(string relative) => _root + "/" + relative;

    private async Task RunOperationsAsync()
    {
        await Check("write-read", async ct =>
        {
            await Xs.WriteAsync(P("text"), "hello xen", ct);
            Expect.Equal("hello xen", await Xs.ReadStringAsync(P("text"), ct), "read back");
            byte[] binary = [0, 1, 2, 0xff, 0xfe, (byte)'x', 0, 0x80];
            await Xs.WriteAsync(P("binary"), binary, ct);
            Expect.SequenceEqual(binary, await Xs.ReadAsync(P("binary"), ct), "binary value (with nuls)");
            await Xs.WriteAsync(P("empty"), "", ct);
            Expect.Equal(0, (await Xs.ReadAsync(P("empty"), ct)).Length, "empty value length");
            return "text, binary with nuls and empty values round-trip";
        });

        await Check("interop-libxenstore", async ct =>
        {
            await Xs.WriteAsync(P("ours"), "written by VirtualDevices", ct);
            string theirs = (await ExternalTool.RunAsync("xenstore-read", ct, P("ours"))).TrimEnd('\n');
            Expect.Equal("written by VirtualDevices", theirs, "xenstore-read of our write");
            await ExternalTool.RunAsync("xenstore-write", ct, P("theirs"), "written by xenstore-write");
            Expect.Equal("written by xenstore-write", await Xs.ReadStringAsync(P("theirs"), ct), "our read of xenstore-write's");
            string listing = await ExternalTool.RunAsync("xenstore-list", ct, _root);
            IEnumerable<string> ours = (await Xs.ListAsync(_root, ct)).Order(StringComparer.Ordinal);
            Expect.SequenceEqual(listing.Split('\n', StringSplitOptions.RemoveEmptyEntries).Order(StringComparer.Ordinal), ours, "xenstore-list vs ListAsync");
            return "xenstore-read/-write/-list (libxenstore) agree with our client";
        });

        await Check("missing-node", async ct =>
        {
            XenstoreException e = await Expect.ThrowsAsync<XenstoreException>(async () => await Xs.ReadAsync(P("nothing/here"), ct), "ReadAsync of a missing node");
            Expect.Equal("ENOENT", e.ErrorName, "error name");
            Expect.Equal(null, await Xs.TryReadStringAsync(P("nothing"), ct), "TryReadStringAsync");
            Expect.Equal(false, await Xs.ExistsAsync(P("nothing"), ct), "ExistsAsync");
            Expect.Equal(true, await Xs.ExistsAsync(P("text"), ct), "ExistsAsync of an existing node");
            return $"ENOENT as {e.GetType().Name} ({e.ErrorId}); TryRead null; Exists false/true";
        });

        await Check("mkdir-list-remove", async ct =>
        {
            await Xs.MakeDirectoryAsync(P("dir/a/deep"), ct);
            await Xs.WriteAsync(P("dir/b"), "2", ct);
            await Xs.WriteAsync(P("dir/c"), "3", ct);
            Expect.SequenceEqual(["a", "b", "c"], (await Xs.ListAsync(P("dir"), ct)).Order(StringComparer.Ordinal), "children");
            Expect.Equal("", await Xs.ReadStringAsync(P("dir/a"), ct), "value of a made directory");
            await Xs.RemoveAsync(P("dir"), ct);
            Expect.Equal(false, await Xs.ExistsAsync(P("dir/a/deep"), ct), "a grandchild after removing the tree");
            await Xs.RemoveAsync(P("dir"), ct); // removing what is gone, its parent there: no error (both daemons)
            return "mkdir -p, list, recursive remove, remove of a missing node";
        });

        await Check("large-directory", async ct =>
        {
            // 200 names of 40 characters: about 8 KB of names, two replies' worth (one reply holds 4096 bytes).
            string[] names = [.. Enumerable.Range(0, 200).Select(i => $"child-{i:D4}-" + new string('x', 29))];
            await Xs.RunInTransactionAsync(async (tx, token) =>
            {
                foreach (string name in names)
                {
                    await tx.WriteAsync(P("big/" + name), "v", token);
                }
            }, cancellationToken: ct);
            try
            {
                if (transport == "xenbus" && Environment.GetEnvironmentVariable("LAB_XENSTORED_DAEMON") == "oxenstored")
                {
                    // oxenstored sends a directory whole, but a reply on the ring may not pass 4096 bytes, so it answers
                    // E2BIG; and it has no DIRECTORY_PART (it refuses it), so no client can list this directory over
                    // xenbus. The truthful answer is the typed E2BIG, with the connection still usable.
                    XenstoreException tooBig = await Expect.ThrowsAsync<XenstoreException>(async () => await Xs.ListAsync(P("big"), ct), "listing 8 KB of names over oxenstored's ring");
                    Expect.Equal("E2BIG", tooBig.ErrorName, "the refusal");
                    Expect.Equal("v", await Xs.ReadStringAsync(P("big/" + names[0]), ct), "a read after the refusal");
                    return $"E2BIG (oxenstored has no DIRECTORY_PART and a ring reply holds 4096 bytes); connection intact";
                }

                IReadOnlyList<string> listed = await Xs.ListAsync(P("big"), ct);
                Expect.SequenceEqual(names, listed.Order(StringComparer.Ordinal), "the 200 children");
                return $"{listed.Count} children, {names.Sum(n => n.Length + 1)} bytes of names";
            }
            finally
            {
                // Gone before the next checks, which list their parent with libxenstore's tools too.
                await using XenstoreClient cleaner = connect();
                await cleaner.RemoveAsync(P("big"), CancellationToken.None);
            }
        });

        await Check("value-limits", async ct =>
        {
            // A value filling the payload: the transport's payload limit less the path and its nul. The limit is
            // XENSTORE_PAYLOAD_MAX (4096) on the socket, 4080 on /dev/xen/xenbus (the kernel's buffer holds the
            // 16-byte header too). oxenstored applies its quota-maxsize (/etc/xen/oxenstored.conf, 2048 bytes in
            // Debian) to dom0 too, C xenstored exempts dom0: there the largest value is the quota, and one byte more
            // is the daemon's E2BIG.
            string path = P("full");
            int payloadMax = transport == "xenbus" ? XenstoreLimits.DevicePayloadMax : XenstoreLimits.PayloadMax;
            int payloadRoom = payloadMax - Encoding.UTF8.GetByteCount(path) - 1;
            int? quota = OxenstoredMaxSize();
            byte[] value = new byte[quota is { } q ? Math.Min(q, payloadRoom) : payloadRoom];
            Random.Shared.NextBytes(value);
            await Xs.WriteAsync(path, value, ct);
            Expect.SequenceEqual(value, await Xs.ReadAsync(path, ct), "the largest value");
            string daemonRefusal = "";
            if (quota is not null && value.Length < payloadRoom)
            {
                XenstoreException byDaemon = await Expect.ThrowsAsync<XenstoreException>(async () => await Xs.WriteAsync(path, new byte[value.Length + 1], ct), "one byte over oxenstored's quota");
                Expect.Equal("E2BIG", byDaemon.ErrorName, "oxenstored's refusal");
                daemonRefusal = $"; oxenstored refuses {value.Length + 1} bytes ({byDaemon.ErrorName})";
            }

            XenstoreException e = await Expect.ThrowsAsync<XenstoreException>(async () => await Xs.WriteAsync(path, new byte[payloadRoom + 1], ct), "one byte over the payload");
            Expect.Equal("hello xen", await Xs.ReadStringAsync(P("text"), ct), "the connection after the refused writes");
            return $"{value.Length} bytes round-trip{daemonRefusal}; {payloadRoom + 1} refused before sending ({e.ErrorName}); connection intact";
        });

        await Check("permissions", async ct =>
        {
            await Xs.WriteAsync(P("pd/perm"), "p", ct);
            XenstorePermissions initial = await Xs.GetPermissionsAsync(P("pd/perm"), ct);
            Expect.Equal(0, initial.Owner, "owner of a node dom0 made");
            var wanted = new XenstorePermissions(0, XenstoreAccess.Read);
            await Xs.SetPermissionsAsync(P("pd/perm"), wanted, ct);
            XenstorePermissions back = await Xs.GetPermissionsAsync(P("pd/perm"), ct);
            Expect.Equal(wanted.ToString(), back.ToString(), "permissions read back");
            string ls = await ExternalTool.RunAsync("xenstore-ls", ct, "-p", P("pd"));
            string line = ls.Split('\n').FirstOrDefault(l => l.TrimStart().StartsWith("perm ", StringComparison.Ordinal)) ?? "";
            Expect.True(line.Contains("(r0)", StringComparison.Ordinal), $"xenstore-ls -p shows r0 for the node: '{line.Trim()}'");
            return $"{initial} -> {back}; xenstore-ls -p: {line.Trim()}";
        });

        await Check("many-in-flight", async ct =>
        {
            // 500 reads issued at once on one connection: replies are matched to requests by id.
            await Xs.RunInTransactionAsync(async (tx, token) =>
            {
                for (int i = 0; i < 50; i++)
                {
                    await tx.WriteAsync(P($"flight/{i}"), i.ToString(System.Globalization.CultureInfo.InvariantCulture), token);
                }
            }, cancellationToken: ct);
            Task<string>[] reads = [.. Enumerable.Range(0, 500).Select(i => Xs.ReadStringAsync(P($"flight/{i % 50}"), ct).AsTask())];
            string[] values = await Task.WhenAll(reads);
            for (int i = 0; i < values.Length; i++)
            {
                Expect.Equal((i % 50).ToString(System.Globalization.CultureInfo.InvariantCulture), values[i], $"read {i}");
            }

            return "500 concurrent reads, each got its own node's value";
        });
    }

    private async Task RunTransactionsAsync()
    {
        await Check("transaction-commit", async ct =>
        {
            await using XenstoreTransaction tx = await Xs.BeginTransactionAsync(ct);
            await tx.WriteAsync(P("tx/a"), "1", ct);
            await tx.WriteAsync(P("tx/b"), "2", ct);
            Expect.Equal("1", await tx.ReadStringAsync(P("tx/a"), ct), "read inside the transaction");
            Expect.Equal(false, await Xs.ExistsAsync(P("tx/a"), ct), "visible outside before commit");
            await tx.CommitAsync(ct);
            Expect.Equal("2", await Xs.ReadStringAsync(P("tx/b"), ct), "after commit");
            return $"transaction {tx.Id}: isolated until commit, then visible";
        });

        await Check("transaction-abort", async ct =>
        {
            await using XenstoreTransaction tx = await Xs.BeginTransactionAsync(ct);
            await tx.WriteAsync(P("tx/aborted"), "x", ct);
            await tx.AbortAsync(ct);
            Expect.Equal(false, await Xs.ExistsAsync(P("tx/aborted"), ct), "exists after abort");
            return "aborted write discarded";
        });

        await Check("transaction-conflict", async ct =>
        {
            await Xs.WriteAsync(P("tx/x"), "0", ct);
            await using XenstoreTransaction tx = await Xs.BeginTransactionAsync(ct);
            string seen = await tx.ReadStringAsync(P("tx/x"), ct);
            await Xs.WriteAsync(P("tx/x"), "outside", ct);
            await tx.WriteAsync(P("tx/x"), seen + "+1", ct);
            XenstoreException e = await Expect.ThrowsAsync<XenstoreException>(async () => await tx.CommitAsync(ct), "commit after a conflicting write");
            Expect.True(e.IsTransactionConflict, $"conflict reported as EAGAIN, got {e.ErrorName}");
            Expect.Equal("outside", await Xs.ReadStringAsync(P("tx/x"), ct), "value after the failed commit");
            return $"commit refused with {e.ErrorName} ({e.ErrorId}); the outside write stands";
        });

        await Check("transaction-retry", async ct =>
        {
            await Xs.WriteAsync(P("tx/counter"), "10", ct);
            int attempts = 0;
            int result = await Xs.RunInTransactionAsync(async (tx, token) =>
            {
                attempts++;
                int value = int.Parse(await tx.ReadStringAsync(P("tx/counter"), token), System.Globalization.CultureInfo.InvariantCulture);
                if (attempts == 1)
                {
                    await Xs.WriteAsync(P("tx/counter"), "20", token); // a conflicting writer, once
                }

                await tx.WriteAsync(P("tx/counter"), (value + 1).ToString(System.Globalization.CultureInfo.InvariantCulture), token);
                return value + 1;
            }, cancellationToken: ct);
            Expect.Equal(2, attempts, "attempts");
            Expect.Equal(21, result, "result of the committed attempt");
            Expect.Equal("21", await Xs.ReadStringAsync(P("tx/counter"), ct), "stored");
            return "first attempt conflicted, the retry committed 21";
        });

        await Check("transaction-contention", async ct =>
        {
            // Two connections, four tasks each, 10 increments per task, all on one counter.
            await Xs.WriteAsync(P("tx/shared"), "0", ct);
            await using XenstoreClient other = connect();
            var options = new XenstoreTransactionOptions { MaxAttempts = 1000 };
            int tries = 0;
            Task[] workers = [.. Enumerable.Range(0, 8).Select(w => Task.Run(async () =>
            {
                XenstoreClient c = w % 2 == 0 ? Xs : other;
                for (int i = 0; i < 10; i++)
                {
                    await c.RunInTransactionAsync(async (tx, token) =>
                    {
                        Interlocked.Increment(ref tries);
                        int v = int.Parse(await tx.ReadStringAsync(P("tx/shared"), token), System.Globalization.CultureInfo.InvariantCulture);
                        await tx.WriteAsync(P("tx/shared"), (v + 1).ToString(System.Globalization.CultureInfo.InvariantCulture), token);
                    }, options, ct);
                }
            }, ct))];
            await Task.WhenAll(workers);
            Expect.Equal("80", await Xs.ReadStringAsync(P("tx/shared"), ct), "counter after 80 increments");
            return $"80 increments, none lost, {tries} attempts ({tries - 80} conflicts retried)";
        }, TimeSpan.FromSeconds(120));
    }

    private async Task RunWatchesAsync()
    {
        await Check("watch", async ct =>
        {
            await Xs.WriteAsync(P("w/state"), "1", ct);
            await using XenstoreWatch watch = await Xs.WatchAsync(P("w"), ct);
            XenstoreWatchEvent first = await Next(watch, ct);
            Expect.Equal(P("w"), first.Path, "the registration event");
            await Xs.WriteAsync(P("w/state"), "2", ct);
            Expect.Equal(P("w/state"), (await Next(watch, ct)).Path, "event of a write below");
            await ExternalTool.RunAsync("xenstore-write", ct, P("w/other"), "x");
            Expect.Equal(P("w/other"), (await Next(watch, ct)).Path, "event of xenstore-write's write");
            await Xs.RemoveAsync(P("w/state"), ct);
            Expect.Equal(P("w/state"), (await Next(watch, ct)).Path, "event of a remove");
            await Xs.SetPermissionsAsync(P("w/other"), new XenstorePermissions(0, XenstoreAccess.Read), ct);
            Expect.Equal(P("w/other"), (await Next(watch, ct)).Path, "event of a permission change");
            return $"token {watch.Token}: registration, write, foreign write, remove and set-perms events";
        });

        await Check("watch-overlapping", async ct =>
        {
            await using XenstoreWatch outer = await Xs.WatchAsync(P("o"), ct);
            await using XenstoreWatch inner = await Xs.WatchAsync(P("o/in"), ct);
            await Next(outer, ct);
            await Next(inner, ct);
            await Xs.WriteAsync(P("o/in/leaf"), "1", ct);
            Expect.Equal(P("o/in/leaf"), (await Next(outer, ct)).Path, "outer watch");
            Expect.Equal(P("o/in/leaf"), (await Next(inner, ct)).Path, "inner watch");
            Expect.True(outer.Token != inner.Token, "distinct tokens");
            return "one write, each watch got its event by token";
        });

        await Check("unwatch", async ct =>
        {
            XenstoreWatch watch = await Xs.WatchAsync(P("u"), ct);
            await Next(watch, ct);
            await watch.DisposeAsync();
            await using XenstoreWatch probe = await Xs.WatchAsync(P("u"), ct);
            await Next(probe, ct);
            await Xs.WriteAsync(P("u/x"), "1", ct);
            await Next(probe, ct); // the write has been seen by the daemon's watch machinery
            Expect.True(!watch.Events.TryRead(out XenstoreWatchEvent late), $"no event after unwatch, got {late.Path}");
            return "disposed watch gets nothing, a live one on the same path does";
        });

        await Check("wait-for", async ct =>
        {
            Task writer = Task.Run(async () =>
            {
                await Task.Delay(300, ct);
                await ExternalTool.RunAsync("xenstore-write", ct, P("wait/state"), "4");
            }, ct);
            byte[]? value = await Xs.WaitForAsync(P("wait/state"), v => v is not null && Encoding.ASCII.GetString(v) == "4", TimeSpan.FromSeconds(20), ct);
            await writer;
            XenstoreException e = await Expect.ThrowsAsync<XenstoreException>(async () =>
                await Xs.WaitForAsync(P("wait/never"), v => v is not null, TimeSpan.FromMilliseconds(300), ct), "a wait that times out");
            Expect.Equal("ETIMEDOUT", e.ErrorName, "timeout error");
            return $"value {Encoding.ASCII.GetString(value!)} seen; a wait that never holds times out ({e.ErrorId})";
        });

        await Check("reset-watches", async ct =>
        {
            await using XenstoreClient own = connect();
            XenstoreWatch watch = await own.WatchAsync(P("r"), ct);
            await Next(watch, ct);
            await own.ResetWatchesAsync(ct);
            await Xs.WriteAsync(P("r/after"), "1", ct);
            // The daemon dropped the watch: the local stream ends without further events.
            bool more = await watch.Events.WaitToReadAsync(ct);
            Expect.True(!more, "the watch stream ended");
            Expect.Equal("1", await own.ReadStringAsync(P("r/after"), ct), "the connection after RESET_WATCHES");
            return "watches dropped, stream ended, connection usable";
        });
    }

    private async Task RunDomainsAsync()
    {
        await Check("domain-queries", async ct =>
        {
            Expect.Equal("/local/domain/0", await Xs.GetDomainPathAsync(0, ct), "GET_DOMAIN_PATH 0");
            Expect.Equal("/local/domain/12345", await Xs.GetDomainPathAsync(12345, ct), "GET_DOMAIN_PATH of any id");
            Expect.Equal(true, await Xs.IsDomainIntroducedAsync(0, ct), "IS_DOMAIN_INTRODUCED 0");
            bool unknown;
            try
            {
                unknown = await Xs.IsDomainIntroducedAsync(12345, ct);
            }
            catch (XenstoreException e)
            {
                // C xenstored answers F; oxenstored refuses an id it does not know.
                return $"/local/domain/0, introduced; unknown domain 12345 refused with {e.ErrorName}";
            }

            Expect.Equal(false, unknown, "IS_DOMAIN_INTRODUCED 12345");
            return "/local/domain/0, introduced; unknown domain 12345 not introduced";
        });

        await Check("control", async ct =>
        {
            try
            {
                string answer = await Xs.ControlAsync("help");
                Expect.True(answer.Length > 0, "help text");
                return $"CONTROL help: {answer.Split('\n').Length} lines";
            }
            catch (XenstoreException e)
            {
                // oxenstored has no 'help' command: the refusal must be a typed error naming its errno.
                Expect.True(e.ErrorName.StartsWith('E'), $"typed error, got {e.ErrorName}");
                return $"CONTROL help refused with {e.ErrorName} ({e.ErrorId})";
            }
        });
    }

    /// <summary>oxenstored's quota-maxsize when oxenstored is the daemon here, else null.</summary>
    private static int? OxenstoredMaxSize()
    {
        if (Environment.GetEnvironmentVariable("LAB_XENSTORED_DAEMON") != "oxenstored")
        {
            return null;
        }

        string? line = File.ReadLines("/etc/xen/oxenstored.conf").Select(l => l.Trim())
            .FirstOrDefault(l => l.StartsWith("quota-maxsize", StringComparison.Ordinal));
        return line is null ? 2048 : int.Parse(line[(line.IndexOf('=') + 1)..].Trim(), System.Globalization.CultureInfo.InvariantCulture);
    }

    private static async Task<XenstoreWatchEvent> Next(XenstoreWatch watch, CancellationToken ct)
    {
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(ct);
        limit.CancelAfter(EventWait);
        try
        {
            return await watch.ReadAsync(limit.Token);
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            throw new CheckFailedException($"no event on watch {watch.Path} within {EventWait.TotalSeconds} s");
        }
    }
}
