using System.Globalization;
using System.Text.RegularExpressions;
using VirtualDevices.Tests.Infrastructure;
using VirtualDevices.Xen.Rings;
using Xunit.Abstractions;

namespace VirtualDevices.Tests.Xen.Rings;

/// <summary>
/// Byte compatibility with Xen's <c>ring.h</c>: a C program compiled against it (and netif.h's and blkif.h's ring
/// types) plays the other end on the same shared pages (a <c>/dev/shm</c> file both map), notifications over eventfds
/// the child inherits, in both roles; a million requests each way, every field of every request and response checked
/// by the side that receives it.
/// </summary>
public sealed partial class RingByteCompatibilityTests : IClassFixture<RingPeerProgram>
{
    private const ulong Count = 1_000_000;

    private readonly RingPeerProgram _peer;
    private readonly ITestOutputHelper _output;

    public RingByteCompatibilityTests(RingPeerProgram peer, ITestOutputHelper output)
    {
        _peer = peer;
        _output = output;
    }

    [Fact]
    public Task BlkifCFrontAgainstOurBack() => CFrontAgainstOurBackAsync<BlkifRequest, BlkifResponse, BlkifPayload>("blkif", pageOrder: 0, inFlight: 32);

    [Fact]
    public Task BlkifOurFrontAgainstCBack() => OurFrontAgainstCBackAsync<BlkifRequest, BlkifResponse, BlkifPayload>("blkif", pageOrder: 0, inFlight: 32);

    [Fact]
    public Task NetifTxCFrontAgainstOurBackOnFourPages() => CFrontAgainstOurBackAsync<NetifTxRequest, NetifTxResponse, TxPayload>("netif-tx", pageOrder: 2, inFlight: 256);

    [Fact]
    public Task NetifTxOurFrontAgainstCBackOnFourPages() => OurFrontAgainstCBackAsync<NetifTxRequest, NetifTxResponse, TxPayload>("netif-tx", pageOrder: 2, inFlight: 256);

    private async Task CFrontAgainstOurBackAsync<TRequest, TResponse, TPayload>(string type, int pageOrder, int inFlight)
        where TRequest : unmanaged
        where TResponse : unmanaged
        where TPayload : IRingPayload<TRequest, TResponse>
    {
        using var pages = new RingSharedFile(pageOrder);
        using var toPeer = new RingEventFd();
        using var fromPeer = new RingEventFd();
        await using ExternalProcess peer = StartPeer("front", type, pages, pageOrder, inFlight, notifyFd: fromPeer.Fd, waitFd: toPeer.Fd);
        int size = await ReadyAsync(peer);

        // The C front initialised the header (SHARED_RING_INIT); ours attaches as ring.h's BACK_RING_INIT does.
        var ring = new BackRing<TRequest, TResponse>(pages.Address, pages.Length, $"{type} back");
        Assert.Equal(size, ring.Size);
        await Task.Run(() => RingDrivers.RunBack<TRequest, TResponse, TPayload>(ring, Count, toPeer, fromPeer));
        PeerCounts counts = await DoneAsync(peer);
        Report(type, "C front, our back", counts, toPeer, fromPeer);
    }

    private async Task OurFrontAgainstCBackAsync<TRequest, TResponse, TPayload>(string type, int pageOrder, int inFlight)
        where TRequest : unmanaged
        where TResponse : unmanaged
        where TPayload : IRingPayload<TRequest, TResponse>
    {
        using var pages = new RingSharedFile(pageOrder);
        using var toPeer = new RingEventFd();
        using var fromPeer = new RingEventFd();

        // Our front initialises the header before the C back attaches (XEN_FRONT_RING_INIT).
        var ring = new FrontRing<TRequest, TResponse>(pages.Address, pages.Length, $"{type} front");
        await using ExternalProcess peer = StartPeer("back", type, pages, pageOrder, inFlight, notifyFd: fromPeer.Fd, waitFd: toPeer.Fd);
        Assert.Equal(ring.Size, await ReadyAsync(peer));
        await Task.Run(() => RingDrivers.RunFront<TRequest, TResponse, TPayload>(ring, Count, (ulong)inFlight, toPeer, fromPeer));
        PeerCounts counts = await DoneAsync(peer);
        Report(type, "our front, C back", counts, toPeer, fromPeer);
    }

    private ExternalProcess StartPeer(string role, string type, RingSharedFile pages, int pageOrder, int inFlight, int notifyFd, int waitFd) =>
        ExternalProcess.Start(_peer.Path, [role, type, pages.Path, Str(pageOrder), Str(Count), Str(inFlight), Str(notifyFd), Str(waitFd), "100"]);

    private static async Task<int> ReadyAsync(ExternalProcess peer)
    {
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        while (true)
        {
            Match ready = ReadyLine().Match(peer.StandardOutput);
            if (ready.Success)
            {
                return int.Parse(ready.Groups[1].Value, CultureInfo.InvariantCulture);
            }

            Assert.False(peer.HasExited, $"ring-peer exited before it was ready: {peer.StandardError}");
            await Task.Delay(10, deadline.Token);
        }
    }

    private static async Task<PeerCounts> DoneAsync(ExternalProcess peer)
    {
        int exit = await peer.WaitForExitAsync(TimeSpan.FromSeconds(60));
        Assert.True(exit == 0, $"ring-peer failed ({exit}): {peer.StandardError}");
        Match done = DoneLine().Match(peer.StandardOutput);
        Assert.True(done.Success, $"ring-peer printed no result: {peer.StandardOutput}");
        return new PeerCounts(long.Parse(done.Groups[1].Value, CultureInfo.InvariantCulture), long.Parse(done.Groups[2].Value, CultureInfo.InvariantCulture));
    }

    private void Report(string type, string roles, PeerCounts peer, RingEventFd ours, RingEventFd oursWaited)
    {
        _output.WriteLine($"{type}, {roles}: {Count} requests; notifications: ours {ours.Notifications}, C's {peer.Notifications}; sleeps: ours {oursWaited.Waits}, C's {peer.Waits}");

        // Event suppression: a notification only when the sleeping side asked for one (req_event/rsp_event), so with
        // batches of up to a ring's worth far fewer notifications than requests go each way.
        Assert.True(ours.Notifications < (long)Count / 4, $"we sent {ours.Notifications} notifications for {Count} requests");
        Assert.True(peer.Notifications < (long)Count / 4, $"the C end sent {peer.Notifications} notifications for {Count} requests");
    }

    private static string Str(long value) => value.ToString(CultureInfo.InvariantCulture);

    private static string Str(ulong value) => value.ToString(CultureInfo.InvariantCulture);

    [GeneratedRegex(@"^ready (\d+)$", RegexOptions.Multiline)]
    private static partial Regex ReadyLine();

    [GeneratedRegex(@"^done requests=\d+ notifications=(\d+) waits=(\d+)$", RegexOptions.Multiline)]
    private static partial Regex DoneLine();

    private readonly record struct PeerCounts(long Notifications, long Waits);
}
