using System.Text;
using VirtualDevices.Tests.Infrastructure;
using VirtualDevices.Xen;
using VirtualDevices.Xen.EventChannels;
using VirtualDevices.Xen.Grants;
using VirtualDevices.Xen.Loopback;
using VirtualDevices.Xen.Xenstore;
using VirtualDevices.Xen.Xenstore.Client;
using VirtualDevices.Xen.Xenstore.Protocol;

namespace VirtualDevices.Tests.Xen.Loopback;

/// <summary>
/// The loopback hypervisor's xenstore: the embedded server in dom0, and each joining domain given a ring page
/// (grant reference 1) and an event channel, its home written and introduced as a toolstack does. Domains in this
/// process speak to it over their rings as guests (permissions enforced), dom0 over the in-process link and the unix
/// socket (the xenstore tools), INTRODUCE over the protocol maps and binds through the hypervisor, and a guest that
/// never reads its replies stalls only itself.
/// </summary>
public sealed class LoopbackXenstoreTests : IAsyncLifetime
{
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(30);
    private readonly TempDirectory _temp = new();
    private LoopbackHypervisor _hypervisor = null!;
    private XenstoreClient _dom0 = null!;

    public Task InitializeAsync()
    {
        _hypervisor = LoopbackHypervisor.StartWithXenstore(Path.Combine(_temp.Path, "hv.sock"), Path.Combine(_temp.Path, "xenstored.sock"));
        _dom0 = XenstoreClient.ConnectInProcess(_hypervisor.Xenstore!);
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        await _dom0.DisposeAsync();
        await _hypervisor.DisposeAsync();
        _temp.Dispose();
    }

    [Fact(Timeout = 60_000)]
    public async Task AGuestReadsWritesWatchesAndRunsTransactionsOverItsRingWithAGuestsRights()
    {
        using LoopbackDomain guest = _hypervisor.JoinInProcess();
        Assert.True(guest.HasXenstore);
        await using XenstoreClient xs = guest.ConnectXenstore();

        // Its home as the toolstack wrote it, reached by relative paths (the connection speaks for domain 1).
        Assert.Equal("loopback-1", await xs.ReadStringAsync("name").AsTask().WaitAsync(Limit));
        Assert.Equal("1", await xs.ReadStringAsync("domid"));
        Assert.Equal("/local/domain/1", await xs.GetDomainPathAsync(1));

        await xs.WriteAsync("data/greeting", "hello from the ring");
        Assert.Equal("hello from the ring", await _dom0.ReadStringAsync("/local/domain/1/data/greeting"));
        Assert.Equal(1, (await _dom0.GetPermissionsAsync("/local/domain/1/data/greeting")).Owner);

        // A watch over the ring sees dom0's change.
        // (a relative watch's events name relative paths, as xenstored's do; the first is the watch's initial one).
        await using XenstoreWatch watch = await xs.WatchAsync("data/knock");
        await DrainFirstEventAsync(watch);
        await _dom0.WriteAsync("/local/domain/1/data/knock", "knock");
        await WaitForEventAsync(watch, "data/knock");

        // A transaction over the ring commits.
        await xs.RunInTransactionAsync(async (tx, ct) =>
        {
            await tx.WriteAsync("data/a", "1", ct);
            await tx.WriteAsync("data/b", "2", ct);
        });
        Assert.Equal(["a", "b", "greeting", "knock"], (await _dom0.ListAsync("/local/domain/1/data")).Order(StringComparer.Ordinal));

        // A guest's rights: dom0's private nodes and another home are closed to it, its own home is read-only.
        await _dom0.WriteAsync("/local/domain/0/secret", "dom0 only");
        XenstoreException denied = await Assert.ThrowsAsync<XenstoreException>(async () => await xs.ReadStringAsync("/local/domain/0/secret"));
        Assert.Equal("EACCES", denied.ErrorName);
        XenstoreException readOnly = await Assert.ThrowsAsync<XenstoreException>(async () => await xs.WriteAsync("name", "renamed"));
        Assert.Equal("EACCES", readOnly.ErrorName);
        Assert.Equal("loopback-1", await _dom0.ReadStringAsync("/local/domain/1/name"));
    }

    [Fact(Timeout = 60_000)]
    public async Task WhenAJoinReturnsTheDomainIsIntroducedAndItsHomeWritten()
    {
        // As on Xen, where the toolstack writes the home and introduces the domain before it runs: a join that
        // returned first let dom0 read /local/domain/N/domid as ENOENT (a help example failed so in CI). Each guest
        // leaves before the next joins, usually with the same id: a departure whose toolstack part ran after its id
        // was free removed the next domain's new home (3 runs of 1,000 joins failed, each within 3 s; about 4 s here).
        for (int i = 0; i < 1000; i++)
        {
            using LoopbackDomain guest = _hypervisor.JoinInProcess();
            string id = guest.DomainId.ToString(System.Globalization.CultureInfo.InvariantCulture);
            Assert.Equal(id, await _dom0.ReadStringAsync($"/local/domain/{id}/domid").AsTask().WaitAsync(Limit));
            Assert.True(await _dom0.IsDomainIntroducedAsync(guest.DomainId).AsTask().WaitAsync(Limit));
        }
    }

    [Theory(Timeout = 60_000)]
    [InlineData(false)]
    [InlineData(true)]
    public async Task ADomainsDisposeReturnsWithItsDepartureDone(bool overTheSocket)
    {
        // An admin's Disconnect then Get listed the domain still there: the departure ran a moment after the socket
        // closed. Now the domain says goodbye and the hypervisor replies once it has undone everything.
        for (int round = 0; round < 20; round++)
        {
            LoopbackDomain guest = overTheSocket ? LoopbackDomain.Join(_hypervisor.SocketPath!) : _hypervisor.JoinInProcess();
            ushort id = guest.DomainId;
            using (IGrantedPages granted = guest.Grant(0, 1, GrantAccess.ReadWrite))
            {
                Assert.Contains(_hypervisor.Grants, g => g.Granter == id && g.Reference == granted.References[0]);
            }

            guest.Grant(0, 2, GrantAccess.ReadOnly); // left to the departure
            using IEventChannel channel = _hypervisor.Domain0!.AllocateUnbound(id);
            Assert.True(await _dom0.ExistsAsync($"/local/domain/{id}/domid"));

            guest.Dispose();
            Assert.DoesNotContain(_hypervisor.Domains, d => d.DomainId == id);
            Assert.DoesNotContain(_hypervisor.Grants, g => g.Granter == id || g.Grantee == id);
            Assert.False(await _dom0.ExistsAsync($"/local/domain/{id}"), $"round {round}: the home of {id} is gone");
            Assert.False(await _dom0.IsDomainIntroducedAsync(id));
        }
    }

    [Fact(Timeout = 60_000)]
    public async Task JoiningIntroducesTheDomainWithItsRingAndLeavingReleasesIt()
    {
        await using XenstoreWatch introduced = await _dom0.WatchAsync(XenstorePath.IntroduceDomain);
        await using XenstoreWatch released = await _dom0.WatchAsync(XenstorePath.ReleaseDomain);
        await DrainFirstEventAsync(introduced);
        await DrainFirstEventAsync(released);

        LoopbackDomain guest = _hypervisor.JoinInProcess();
        try
        {
            await WaitForEventAsync(introduced, XenstorePath.IntroduceDomain);
            Assert.True(await _dom0.IsDomainIntroducedAsync(guest.DomainId));

            // The toolstack's grant and port, as a guest's start info names them: reference 1 to dom0, one port to dom0
            // bound by the xenstore's end.
            Assert.Contains(_hypervisor.Grants, g => g.Granter == guest.DomainId && g.Reference == XenstoreRingLayout.ReservedGrantReference && g.Grantee == 0 && g.MapCount == 1);
            Assert.Contains(_hypervisor.Channels, c => c.DomainId == 0 && c.RemoteDomain == guest.DomainId);
        }
        finally
        {
            guest.Dispose();
        }

        await WaitForEventAsync(released, XenstorePath.ReleaseDomain);
        await WaitUntilAsync(async () => !await _dom0.ExistsAsync($"/local/domain/{guest.DomainId}"));
        Assert.False(await _dom0.IsDomainIntroducedAsync(guest.DomainId));
        Assert.DoesNotContain(_hypervisor.Channels, c => c.RemoteDomain == guest.DomainId);
    }

    [Fact(Timeout = 60_000)]
    public async Task AnIntroduceFromDom0MapsTheReservedGrantAndBindsThePortThroughTheHypervisor()
    {
        using LoopbackDomain guest = _hypervisor.JoinInProcess();
        await WaitUntilAsync(async () => await _dom0.IsDomainIntroducedAsync(guest.DomainId));
        uint frame = (uint)guest.ArenaPages - 1;
        uint port = _hypervisor.Channels.Single(c => c.DomainId == guest.DomainId && c.RemoteDomain == 0).Port;

        // The same ring again is a repeat (as oxenstored); another port for an introduced domain, a domain that
        // does not exist, a port of 0: EINVAL, as xenstored answers.
        await _dom0.IntroduceDomainAsync(guest.DomainId, frame, port);
        Assert.Equal("EINVAL", (await Assert.ThrowsAsync<XenstoreException>(async () => await _dom0.IntroduceDomainAsync(guest.DomainId, frame, port + 5))).ErrorName);
        Assert.Equal("EINVAL", (await Assert.ThrowsAsync<XenstoreException>(async () => await _dom0.IntroduceDomainAsync(77, 0, 1))).ErrorName);
        Assert.Equal("EINVAL", (await Assert.ThrowsAsync<XenstoreException>(async () => await _dom0.IntroduceDomainAsync(guest.DomainId, frame, 0))).ErrorName);

        // Released by dom0 (its ring's port closes with the xenstore's end, as loopback channels close both ends),
        // then introduced again by dom0 with a new unbound port of the guest: the server maps grant 1 and binds it.
        await _dom0.ReleaseDomainAsync(guest.DomainId);
        await WaitUntilAsync(() => Task.FromResult(!_hypervisor.Channels.Any(c => c.DomainId == 0 && c.RemoteDomain == guest.DomainId)));
        using IEventChannel fresh = guest.AllocateUnbound(0);
        Assert.Equal("EINVAL", (await Assert.ThrowsAsync<XenstoreException>(async () => await _dom0.IntroduceDomainAsync(guest.DomainId, frame, fresh.Port + 100))).ErrorName);
        await _dom0.IntroduceDomainAsync(guest.DomainId, frame, fresh.Port);
        Assert.Contains(_hypervisor.Channels, c => c.DomainId == 0 && c.RemoteDomain == guest.DomainId && c.RemotePort == fresh.Port);
        Assert.Contains(_hypervisor.Grants, g => g.Granter == guest.DomainId && g.Reference == XenstoreRingLayout.ReservedGrantReference && g.MapCount == 1);

        // The guest speaks over the re-introduced ring (its page, the new port), with its rights.
        using XenstoreClient xs = XenstoreClient.OverTransport(guest.OpenXenstoreTransport(fresh));
        await xs.WriteAsync("data/again", "re-introduced").AsTask().WaitAsync(Limit);
        Assert.Equal("re-introduced", await _dom0.ReadStringAsync($"/local/domain/{guest.DomainId}/data/again"));
    }

    [Fact(Timeout = 60_000)]
    public async Task TheXenstoreToolsOnTheHypervisorsSocketSeeTheGuestsNodes()
    {
        using LoopbackDomain guest = _hypervisor.JoinInProcess();
        await using XenstoreClient xs = guest.ConnectXenstore();
        await xs.WriteAsync("data/tool-check", "written over the ring").AsTask().WaitAsync(Limit);

        var environment = new Dictionary<string, string> { ["XENSTORED_PATH"] = _hypervisor.XenstoreSocketPath! };
        ProcessResult ls = (await ExternalProcess.RunAsync("xenstore-ls", ["-p", $"/local/domain/{guest.DomainId}"], Limit, environment)).EnsureSuccess("xenstore-ls");
        Assert.Contains("name = \"loopback-", ls.StandardOutput);
        Assert.Contains("tool-check = \"written over the ring\"", ls.StandardOutput);
        Assert.Contains($"(n{guest.DomainId})", ls.StandardOutput); // its data is its own

        (await ExternalProcess.RunAsync("xenstore-write", [$"/local/domain/{guest.DomainId}/data/from-tool", "xenstore-write"], Limit, environment)).EnsureSuccess("xenstore-write");
        Assert.Equal("xenstore-write", await xs.ReadStringAsync("data/from-tool"));
    }

    [Fact(Timeout = 60_000)]
    public async Task AGuestThatNeverReadsItsRepliesStallsOnlyItself()
    {
        using LoopbackDomain stalled = _hypervisor.JoinInProcess();
        using LoopbackDomain other = _hypervisor.JoinInProcess();
        await using XenstoreClient otherXs = other.ConnectXenstore();
        await WaitUntilAsync(async () => await _dom0.IsDomainIntroducedAsync(stalled.DomainId));

        // The stalled guest's ring, driven by hand: requests written until the request ring is full, replies never
        // read, so the daemon's reply ring fills (1,024 bytes) and its connection waits for room.
        using XenstoreRingTransport ring = stalled.OpenXenstoreTransport();
        byte[] request = BuildRead(Encoding.ASCII.GetBytes("name"));
        var writer = Task.Run(() =>
        {
            try
            {
                for (int i = 0; i < 1000; i++)
                {
                    ring.Send(request);
                }
            }
            catch (IOException)
            {
                // Shut down at the end of the test.
            }
        });

        await WaitUntilAsync(() => Task.FromResult(ring.Available >= 1000));

        // Everyone else is answered meanwhile: another guest over its ring, dom0 in process and over the socket.
        for (int i = 0; i < 20; i++)
        {
            await otherXs.WriteAsync("data/n", i.ToString(System.Globalization.CultureInfo.InvariantCulture)).AsTask().WaitAsync(Limit);
            Assert.Equal(i.ToString(System.Globalization.CultureInfo.InvariantCulture), await _dom0.ReadStringAsync($"/local/domain/{other.DomainId}/data/n").AsTask().WaitAsync(Limit));
        }

        var environment = new Dictionary<string, string> { ["XENSTORED_PATH"] = _hypervisor.XenstoreSocketPath! };
        (await ExternalProcess.RunAsync("xenstore-read", [$"/local/domain/{other.DomainId}/name"], Limit, environment)).EnsureSuccess("xenstore-read");
        Assert.False(writer.IsCompleted, "the stalled guest's writer waits for room, as it should");
        ring.Shutdown();
        await writer.WaitAsync(Limit);
    }

    [Fact(Timeout = 60_000)]
    public async Task AGuestThatStopsReadingAndThenReadsGetsEveryReply()
    {
        // 300 requests written before any reply is read: the daemon's reply ring fills (300 replies of 26 bytes are
        // 7,800 bytes, the ring holds 1,024), its connection waits for room while the guest's further requests arrive
        // (their events taken by the daemon's sends), and once the guest reads, every reply comes.
        using LoopbackDomain guest = _hypervisor.JoinInProcess();
        using XenstoreRingTransport ring = guest.OpenXenstoreTransport();
        byte[] request = BuildRead(Encoding.ASCII.GetBytes("name"));
        const int Requests = 300;
        Task writer = Task.Run(() =>
        {
            for (int i = 0; i < Requests; i++)
            {
                ring.Send(request);
            }
        });

        await WaitUntilAsync(() => Task.FromResult(ring.Available == 1024));
        Task<int> reader = Task.Run(() =>
        {
            byte[] buffer = new byte[Requests * 64];
            int end = 0;
            int replies = 0;
            int start = 0;
            while (replies < Requests)
            {
                int read = ring.Receive(buffer.AsSpan(end));
                Assert.True(read > 0, "the ring ended before every reply came");
                end += read;
                while (end - start >= XenstoreLimits.HeaderSize)
                {
                    XenstoreMessageHeader header = XenstoreMessageHeader.Read(buffer.AsSpan(start));
                    int total = XenstoreLimits.HeaderSize + (int)header.Length;
                    if (end - start < total)
                    {
                        break;
                    }

                    Assert.Equal(XenstoreMessageType.Read, header.Type);
                    Assert.Equal($"loopback-{guest.DomainId}", Encoding.ASCII.GetString(buffer, start + XenstoreLimits.HeaderSize, (int)header.Length));
                    start += total;
                    replies++;
                }
            }

            return replies;
        });

        Assert.Equal(Requests, await reader.WaitAsync(Limit));
        await writer.WaitAsync(Limit);
    }

    [Fact(Timeout = 60_000)]
    public async Task RequestsThatArriveWhileTheDaemonWaitsForRoomAreAnsweredOnceItHasRoom()
    {
        // 48 reads (1,008 bytes: the request ring holds them) whose replies (1,248 bytes) overflow the reply ring: the
        // daemon waits for room. 10 more requests come meanwhile; the daemon's send takes their event while it
        // still has no room. Then the guest reads every reply: the daemon sends the rest, and must read the 10
        // requests although no event will announce them again.
        using LoopbackDomain guest = _hypervisor.JoinInProcess();
        await WaitUntilAsync(async () => await _dom0.IsDomainIntroducedAsync(guest.DomainId));
        using XenstoreRingTransport ring = guest.OpenXenstoreTransport();
        byte[] request = BuildRead(Encoding.ASCII.GetBytes("name"));
        byte[] first = [.. Enumerable.Range(0, 48).SelectMany(_ => request)];
        ring.Send(first);
        await WaitUntilAsync(() => Task.FromResult(ring.Available == 1024));
        byte[] more = [.. Enumerable.Range(0, 10).SelectMany(_ => request)];
        ring.Send(more);
        await Task.Delay(200); // lets the daemon take the event of the 10 (the case the check is about)

        // Whole-ring reads: the first takes the 1,024 bytes at once (one "room made" event), the rest come after.
        byte[] replies = await Task.Run(() =>
        {
            byte[] all = new byte[58 * 26];
            int end = 0;
            while (end < all.Length)
            {
                int read = ring.Receive(all.AsSpan(end));
                Assert.True(read > 0, "the ring ended before every reply came");
                end += read;
            }

            return all;
        }).WaitAsync(TimeSpan.FromSeconds(10));
        for (int i = 0; i < 58; i++)
        {
            XenstoreMessageHeader header = XenstoreMessageHeader.Read(replies.AsSpan(i * 26));
            Assert.Equal(XenstoreMessageType.Read, header.Type);
            Assert.Equal($"loopback-{guest.DomainId}", Encoding.ASCII.GetString(replies, (i * 26) + 16, 10));
        }
    }

    [Fact(Timeout = 60_000)]
    public async Task AGuestThatBreaksItsRingLosesItsConnectionAndNothingElse()
    {
        using LoopbackDomain hostile = _hypervisor.JoinInProcess();
        using LoopbackDomain other = _hypervisor.JoinInProcess();
        await using XenstoreClient otherXs = other.ConnectXenstore();
        Assert.Equal($"loopback-{other.DomainId}", await otherXs.ReadStringAsync("name").AsTask().WaitAsync(Limit));
        int before = _hypervisor.Xenstore!.ConnectionCount;

        // The hostile guest claims 5,000 bytes of requests in a 1,024-byte ring, then notifies.
        using (XenstoreRingTransport ring = hostile.OpenXenstoreTransport())
        {
            Assert.Equal($"loopback-{hostile.DomainId}", await ReadOverRawRingAsync(ring, "name"));
            unsafe
            {
                byte* page = hostile.XenstorePage;
                *(uint*)(page + XenstoreRingLayout.RequestProducerOffset) += 5000;
            }

            hostile.XenstoreChannel!.Notify(); // written behind the transport's back, which would publish its own index
            await WaitUntilAsync(() => Task.FromResult(_hypervisor.Xenstore.ConnectionCount == before - 1));
            unsafe
            {
                Assert.Equal(XenstoreRingLayout.ErrorRingIndex, *(uint*)(hostile.XenstorePage + XenstoreRingLayout.ErrorOffset));
            }
        }

        // The other guest and dom0 go on.
        await otherXs.WriteAsync("data/still", "here").AsTask().WaitAsync(Limit);
        Assert.Equal("here", await _dom0.ReadStringAsync($"/local/domain/{other.DomainId}/data/still"));
    }

    [Fact(Timeout = 60_000)]
    public async Task AHostedHypervisorWithXenstoreStopsWithItsHost()
    {
        string socket = Path.Combine(_temp.Path, "hosted-xenstored.sock");
        LoopbackHypervisor hosted;
        await using (var host = new VirtualDevices.Hosting.DeviceHost())
        {
            hosted = await LoopbackHypervisor.StartWithXenstoreAsync(host, null, null, socket);
            Assert.Equal(["xen-loopback0"], host.Services.Select(s => s.Name));
            using LoopbackDomain guest = hosted.JoinInProcess();
            await using XenstoreClient xs = guest.ConnectXenstore();
            Assert.Equal($"loopback-{guest.DomainId}", await xs.ReadStringAsync("name").AsTask().WaitAsync(Limit));
            Assert.True(File.Exists(socket));
        }

        Assert.False(hosted.Xenstore!.IsRunning);
        Assert.False(File.Exists(socket));
    }

    [Fact]
    public async Task AHypervisorWithoutXenstoreGivesNoRing()
    {
        LoopbackHypervisor plain = LoopbackHypervisor.Start();
        try
        {
            using LoopbackDomain guest = plain.JoinInProcess();
            Assert.False(guest.HasXenstore);
            Assert.Null(plain.Xenstore);
            DeviceException error = Assert.Throws<DeviceException>(() => guest.ConnectXenstore());
            Assert.Equal(DeviceErrorIds.XenLoopback.NoXenstore, error.ErrorId);
        }
        finally
        {
            await plain.DisposeAsync();
        }
    }

    private static async Task<string> ReadOverRawRingAsync(XenstoreRingTransport ring, string path)
    {
        ring.Send(BuildRead(Encoding.ASCII.GetBytes(path)));
        return await Task.Run(() =>
        {
            byte[] header = new byte[XenstoreLimits.HeaderSize];
            Assert.True(ring.TryReceiveExactly(header));
            byte[] payload = new byte[XenstoreMessageHeader.Read(header).Length];
            Assert.True(ring.TryReceiveExactly(payload));
            return Encoding.ASCII.GetString(payload);
        }).WaitAsync(Limit);
    }

    private static byte[] BuildRead(byte[] path)
    {
        byte[] message = new byte[XenstoreLimits.HeaderSize + path.Length + 1];
        new XenstoreMessageHeader(XenstoreMessageType.Read, 1, 0, (uint)(path.Length + 1)).Write(message);
        path.CopyTo(message.AsSpan(XenstoreLimits.HeaderSize));
        return message;
    }

    private static async Task DrainFirstEventAsync(XenstoreWatch watch)
    {
        // A new watch fires once at once (xenstored's initial event).
        using var timeout = new CancellationTokenSource(Limit);
        await foreach (XenstoreWatchEvent _ in watch.ReadAllAsync(timeout.Token))
        {
            return;
        }
    }

    private static async Task WaitForEventAsync(XenstoreWatch watch, string path)
    {
        using var timeout = new CancellationTokenSource(Limit);
        await foreach (XenstoreWatchEvent change in watch.ReadAllAsync(timeout.Token))
        {
            if (change.Path == path)
            {
                return;
            }
        }
    }

    private static async Task WaitUntilAsync(Func<Task<bool>> condition)
    {
        DateTime end = DateTime.UtcNow + Limit;
        while (!await condition())
        {
            Assert.True(DateTime.UtcNow < end, "the condition did not hold in time");
            await Task.Delay(20);
        }
    }
}
