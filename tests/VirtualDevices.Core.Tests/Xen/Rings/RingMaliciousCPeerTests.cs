using VirtualDevices.Tests.Infrastructure;
using VirtualDevices.Xen.Rings;

namespace VirtualDevices.Tests.Xen.Rings;

/// <summary>
/// The malicious peer in another process: the C back of <c>ring-peer.c</c> answers a thousand blkif requests properly,
/// then misbehaves on the shared page (rsp_prod backwards or past the requests, an id never issued). Our front ends
/// broken with the typed error, not hung (every wait is bounded) and not reading outside the ring.
/// </summary>
public sealed class RingMaliciousCPeerTests : IClassFixture<RingPeerProgram>
{
    private readonly RingPeerProgram _peer;

    public RingMaliciousCPeerTests(RingPeerProgram peer)
    {
        _peer = peer;
    }

    [Theory]
    [InlineData("backwards", "rsp_prod went backwards", 1000)] // the back waits until we saw all 1000 (see ring-peer.c)
    [InlineData("past", "rsp_prod ran past the requests pushed", 1000 - 32)] // the jump may hide the last window's
    public async Task AResponseProducerThatMisbehavesBreaksOurFront(string evil, string message, int consumedBefore)
    {
        using var pages = new RingSharedFile(0);
        using var toPeer = new RingEventFd();
        using var fromPeer = new RingEventFd();
        var ring = new FrontRing<BlkifRequest, BlkifResponse>(pages.Address, pages.Length, "blkif front");
        await using ExternalProcess peer = StartBack(pages, toPeer, fromPeer, evil);

        XenRingException broken = await Assert.ThrowsAsync<XenRingException>(() => Task.Run(
            () => RingDrivers.RunFront<BlkifRequest, BlkifResponse, BlkifPayload>(ring, 1_000_000, 32, toPeer, fromPeer)));
        Assert.Equal(DeviceErrorIds.Xen.RingBroken, broken.ErrorId);
        Assert.Contains(message, broken.Message, StringComparison.Ordinal);
        // The peer prints after its misdeed and its notify, and its stdout reaches us through a pipe read on another
        // thread: our front can break first (it did, 2 runs in 5 under load), so wait for the line, bounded.
        for (int waited = 0; !peer.StandardOutput.Contains("misbehaved", StringComparison.Ordinal) && waited < 10_000; waited += 20)
        {
            await Task.Delay(20);
        }

        Assert.Contains("misbehaved", peer.StandardOutput, StringComparison.Ordinal);
        Assert.True(ring.ResponseConsumer >= consumedBefore, $"only {ring.ResponseConsumer} responses before the misdeed");
        Assert.Same(broken, Assert.Throws<XenRingException>(() => ring.TryConsumeResponse(out _)));
    }

    [Fact]
    public async Task AResponseWithAnIdNeverIssuedBreaksOurTrackingFront()
    {
        using var pages = new RingSharedFile(0);
        using var toPeer = new RingEventFd();
        using var fromPeer = new RingEventFd();
        var tracked = new TrackedFrontRing<BlkifRequest, BlkifResponse>(
            new FrontRing<BlkifRequest, BlkifResponse>(pages.Address, pages.Length, "blkif front"), idBits: 64,
            static (ref BlkifRequest request, ulong id) => request.Id = id, static (in BlkifResponse response) => response.Id,
            toPeer.Notify);
        await using ExternalProcess peer = StartBack(pages, toPeer, fromPeer, "ids");

        // The caller's event loop: responses when notified, the final check before each sleep.
        var pump = Task.Run(() =>
        {
            while (true)
            {
                tracked.ProcessResponses();
                if (!tracked.FinalCheckForResponses())
                {
                    fromPeer.Wait();
                }
            }
        });
        var senders = Enumerable.Range(0, 4).Select(worker => Task.Run(async () =>
        {
            for (int i = 0; i < 1000; i++)
            {
                BlkifRequest request = RingPayloads.Blkif((ulong)i);
                BlkifResponse response = await tracked.SendAsync(request);
                Assert.Equal(request.Operation, response.Operation);
            }
        })).ToArray();

        XenRingException broken = await Assert.ThrowsAsync<XenRingException>(() => pump.WaitAsync(TimeSpan.FromSeconds(60)));
        Assert.Contains("matches no request in flight", broken.Message, StringComparison.Ordinal);
        foreach (Task sender in senders)
        {
            Assert.Same(broken, await Assert.ThrowsAsync<XenRingException>(() => sender.WaitAsync(TimeSpan.FromSeconds(60))));
        }

        Assert.Equal(0, tracked.InFlight);
    }

    private ExternalProcess StartBack(RingSharedFile pages, RingEventFd toPeer, RingEventFd fromPeer, string evil) =>
        ExternalProcess.Start(_peer.Path, ["back", "blkif", pages.Path, "0", "1000000", "32", fromPeer.Fd.ToString(System.Globalization.CultureInfo.InvariantCulture), toPeer.Fd.ToString(System.Globalization.CultureInfo.InvariantCulture), "100", evil]);
}
