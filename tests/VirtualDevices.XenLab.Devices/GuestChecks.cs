using System.Diagnostics;
using System.Globalization;
using VirtualDevices.Xen.EventChannels;
using VirtualDevices.Xen.Grants;
using VirtualDevices.Xen.Rings;
using VirtualDevices.Xen.Xenstore.Client;

namespace VirtualDevices.XenLab.Devices;

/// <summary>
/// The split drivers' interfaces between dom0 and a real guest domain (issue 11's proof "in the real-Xen lab between
/// dom0 and a guest"): our <see cref="XenGrantTable"/>, <see cref="XenEventChannels"/> and rings
/// (<see cref="FrontRing{TRequest, TResponse}"/>, <see cref="BackRing{TRequest, TResponse}"/>) in dom0; in the guest
/// (Debian's kernel, busybox), tests/c/xen-guest/guest-peer.c on Linux's gntalloc, gntdev and evtchn, reached through
/// xenstore (<see cref="GuestPeer"/>). The guest is the harness's (LAB_GUEST_DOMID: run-checks.sh asks for one with a
/// disk that carries the peer and the modules); without it every check fails, never skips.
/// </summary>
internal sealed class GuestChecks(Checks checks) : IDisposable
{
    private const string SocketPath = "/var/run/xenstored/socket";
    private const int EventWaitMilliseconds = 5_000;
    private const int RingWaitMilliseconds = 10_000;

    // 10,000 requests each way (LAB_GUEST_RING_REQUESTS overrides): each is a payload checked at both ends
    // (the check's message gives the run's rate under emulation).
    private static readonly uint RingRequests = uint.Parse(Environment.GetEnvironmentVariable("LAB_GUEST_RING_REQUESTS") ?? "10000", CultureInfo.InvariantCulture);
    private static readonly TimeSpan RingLimit = TimeSpan.FromSeconds(150);

    private XenGrantTable? _grants;
    private XenEventChannels? _events;
    private GuestPeer? _peer;

    public void Run()
    {
        // A round the run kept without a guest (xen-lab.sh --guest-rounds) says so in one line; the xunit side requires
        // every guest check in each round that created the guest, and at least one such round.
        if (Environment.GetEnvironmentVariable("LAB_GUEST_THIS_ROUND") == "0")
        {
            Console.Out.WriteLine($"guest.round\tskip\tthis round runs without the guest (the run gives it to the rounds of: {Environment.GetEnvironmentVariable("LAB_GUEST_ROUNDS")})");
            return;
        }

        checks.Run("guest.peer-ready", () =>
        {
            string? id = Environment.GetEnvironmentVariable("LAB_GUEST_DOMID");
            if (!ushort.TryParse(id, NumberStyles.None, CultureInfo.InvariantCulture, out ushort domid) || domid == 0)
            {
                throw new CheckFailedException($"no guest domain (LAB_GUEST_DOMID '{id}'): the lab must run with --guest disk --backends kernel and the peer on the guest disk (run-checks.sh)");
            }

            _grants = new XenGrantTable();
            _events = XenEventChannels.Open();
            var xenstore = XenstoreClient.ConnectAsync(new XenstoreClientOptions { SocketPath = SocketPath, Reconnect = false }).AsTask().GetAwaiter().GetResult();
            var peer = new GuestPeer(xenstore, domid);
            string ready = peer.WaitReady(TimeSpan.FromSeconds(60));
            _peer = peer;
            return $"domain {domid}: guest-peer says '{ready}'";
        }, TimeSpan.FromSeconds(90));

        checks.Run("guest.guest-grants-dom0-maps", () =>
        {
            GuestPeer peer = Peer();
            const uint seed = 21, back = 22;
            uint[] refs = Refs(peer.Call($"grant 2 {seed}")[0]);
            using (IMappedGrants mapping = Grants().Map(peer.DomainId, refs, GrantAccess.ReadWrite))
            {
                int at = GuestPeerProtocol.Mismatch(mapping.Memory.Span, seed);
                Expect.True(at < 0, $"the guest's pattern in the mapped pages (byte {at} differs)");
                GuestPeerProtocol.Fill(mapping.Memory.Span, back);
            }

            peer.Call($"check-granted {refs[0]} {back}");
            peer.Call($"ungrant {refs[0]}");
            return $"domain {peer.DomainId} granted refs {string.Join(',', refs)}; dom0 mapped both pages (gntdev), read the guest's pattern, wrote one back that the guest read";
        });

        checks.Run("guest.grant-copy", () =>
        {
            GuestPeer peer = Peer();
            const uint seed = 31, copied = 32;
            IGrantTable grants = Grants();
            int page = grants.PageSize;
            uint[] refs = Refs(peer.Call($"grant 2 {seed}")[0]);
            try
            {
                // From the guest's grants: whole pages, and a piece in the middle of the second one.
                var whole = new byte[page];
                for (int p = 0; p < refs.Length; p++)
                {
                    whole.AsSpan().Clear();
                    grants.CopyFromGrant(peer.DomainId, refs[p], 0, whole);
                    int at = GuestPeerProtocol.Mismatch(whole, seed, p * page);
                    Expect.True(at < 0, $"page {p} copied from the guest's grant holds its pattern (byte {at} differs)");
                }

                var piece = new byte[1000];
                grants.CopyFromGrant(peer.DomainId, refs[1], 100, piece);
                Expect.True(GuestPeerProtocol.Mismatch(piece, seed, page + 100) < 0, "bytes 100-1099 of page 1 copied");

                // Into them: the whole of both pages in two pieces each; the guest checks what it holds.
                var source = new byte[2 * page];
                GuestPeerProtocol.Fill(source, copied);
                for (int p = 0; p < refs.Length; p++)
                {
                    grants.CopyToGrant(peer.DomainId, refs[p], 0, source.AsSpan(p * page, 1500));
                    grants.CopyToGrant(peer.DomainId, refs[p], 1500, source.AsSpan((p * page) + 1500, page - 1500));
                }

                peer.Call($"check-granted {refs[0]} {copied}");

                var error = Expect.Throws<ArgumentOutOfRangeException>(() => grants.CopyFromGrant(peer.DomainId, refs[0], page - 10, new byte[20]));
                return $"GNTDEV_GRANT_COPY from and to the guest's refs {string.Join(',', refs)} (whole pages and pieces); past the page's end: {error.GetType().Name}";
            }
            finally
            {
                peer.Call($"ungrant {refs[0]}");
            }
        });

        checks.Run("guest.dom0-grants-guest-maps", () =>
        {
            GuestPeer peer = Peer();
            const uint seed = 41, back = 42;
            using IGrantedPages granted = Grants().Grant(peer.DomainId, 2, GrantAccess.ReadWrite);
            GuestPeerProtocol.Fill(granted.Memory.Span, seed);
            uint[] refs = granted.References.ToArray();
            peer.Call($"map {string.Join(',', refs)} {seed} {back}");
            int at = GuestPeerProtocol.Mismatch(granted.Memory.Span, back);
            Expect.True(at < 0, $"the guest's pattern written through its mapping (byte {at} differs)");
            peer.Call($"unmap {refs[0]}");
            return $"dom0 granted refs {string.Join(',', refs)} to domain {peer.DomainId} (gntalloc); the guest mapped them (gntdev), read dom0's pattern and wrote one back";
        });

        checks.Run("guest.end-while-guest-maps", () =>
        {
            GuestPeer peer = Peer();
            const uint seed = 51, back = 52, after = 53;
            IGrantedPages granted = Grants().Grant(peer.DomainId, 1, GrantAccess.ReadWrite);
            GuestPeerProtocol.Fill(granted.Memory.Span, seed);
            uint reference = granted.References[0];
            peer.Call($"map {reference} {seed} {back}");
            GrantPeerUse use = granted.PeerUse;
            GrantEndResult result = granted.End();
            Expect.True(result == GrantEndResult.LeftToKernel, $"ending a grant the guest maps leaves the page to the kernel (was {result})");
            Expect.True(granted.IsEnded, "the grant is ended on our side");
            Expect.True(granted.WhenReleasedAsync().Wait(EventWaitMilliseconds), "released as far as dom0 goes");

            // The guest still maps the page: it reads what it wrote and writes again, nothing faults.
            peer.Call($"check-mapped {reference} {back} {after}");
            peer.Call($"unmap {reference}");
            granted.Dispose();
            return $"ref {reference}: PeerUse {use} before the end, End() = {result}; the guest's mapping kept the page whole, then let it go";
        });

        checks.Run("guest.events-dom0-to-guest", () =>
        {
            GuestPeer peer = Peer();
            using IEventChannel channel = Events().AllocateUnbound(peer.DomainId);
            string[] bound = peer.Call($"bind {channel.Port}");
            uint guestPort = uint.Parse(bound[0], CultureInfo.InvariantCulture);
            Expect.True(bound.Length > 1 && bound[1] == "1", $"the guest saw the event Xen marks pending at a bind (got '{string.Join(' ', bound)}')");
            int early = peer.Send($"wait {guestPort} 300");
            Expect.True(Throws(() => peer.Ok(early, "wait (nothing sent)")), "no event at the guest before dom0 notifies");
            channel.Notify();
            peer.Call($"wait {guestPort} {EventWaitMilliseconds}");
            peer.Call($"notify {guestPort}");
            Expect.True(channel.Wait(EventWaitMilliseconds) >= 1, "the guest's notify arrives at dom0");
            peer.Call($"unbind {guestPort}");
            return $"dom0 port {channel.Port} (unbound for domain {peer.DomainId}) bound by the guest as {guestPort}; events both ways";
        });

        checks.Run("guest.events-guest-to-dom0", () =>
        {
            GuestPeer peer = Peer();
            uint guestPort = uint.Parse(peer.Call("unbound")[0], CultureInfo.InvariantCulture);
            using IEventChannel channel = Events().BindInterdomain(peer.DomainId, guestPort);
            Expect.True(channel.Wait(EventWaitMilliseconds) >= 1, "dom0's new end starts with the event Xen marks pending at a bind");
            Expect.True(channel.Wait(200) == 0, "then quiet");
            peer.Call($"notify {guestPort}");
            Expect.True(channel.Wait(EventWaitMilliseconds) >= 1, "the guest's notify arrives at dom0");
            channel.Notify();
            peer.Call($"wait {guestPort} {EventWaitMilliseconds}");
            peer.Call($"unbind {guestPort}");
            return $"the guest's port {guestPort} (unbound for dom0) bound by dom0 as {channel.Port}; events both ways";
        });

        checks.Run("guest.ring-dom0-front", () => RingDom0Front(Peer(), RingRequests, 32), RingLimit);
        checks.Run("guest.ring-guest-front", () => RingGuestFront(Peer(), RingRequests, 32), RingLimit);

        // Our xenbus device and rings as the backend of the guest kernel's own xen-netfront.
        new NetfrontChecks(checks, Peer, Grants, Events).Run();
    }

    // dom0 fronts: a page dom0 grants, an unbound port; the guest maps it, binds and answers every request.
    private string RingDom0Front(GuestPeer peer, uint count, int inFlight)
    {
        using IGrantedPages granted = Grants().Grant(peer.DomainId, 1, GrantAccess.ReadWrite);
        using IEventChannel channel = Events().AllocateUnbound(peer.DomainId);
        var ring = new FrontRing<LabRequest, LabResponse>(granted.Memory, "dom0-front");
        int n = peer.Send($"ring-back {granted.References[0]} {channel.Port} {count}");
        var watch = Stopwatch.StartNew();
        uint sent = 0, done = 0;
        long waits = 0, notifies = 0;
        while (done < count)
        {
            while (sent < count && sent - done < inFlight && ring.TryProduceRequest(GuestPeerProtocol.Request(sent)))
            {
                sent++;
            }

            if (ring.PushRequests())
            {
                channel.Notify();
                notifies++;
            }

            while (ring.TryConsumeResponse(out LabResponse response))
            {
                string? wrong = GuestPeerProtocol.CheckResponse(response, done);
                Expect.True(wrong is null, $"every response as the guest must answer: {wrong}");
                done++;
            }

            if (done == count)
            {
                break;
            }

            if ((sent < count && sent - done < inFlight && !ring.IsFull) || ring.FinalCheckForResponses())
            {
                continue;
            }

            waits++;
            Expect.True(channel.Wait(RingWaitMilliseconds) >= 1, $"an event within {RingWaitMilliseconds / 1000} s ({done} of {count} answered, {sent} sent)");
        }

        double seconds = watch.Elapsed.TotalSeconds;
        string guest = string.Join(' ', peer.Ok(n, "ring-back"));
        return string.Create(CultureInfo.InvariantCulture,
            $"{count} requests, {inFlight} in flight, ring of {ring.Size}: {count / seconds:F0}/s; dom0 notified {notifies}x, slept {waits}x; guest: {guest}");
    }

    // The guest fronts: it grants the ring page and offers an unbound port; dom0 maps, binds and answers.
    private string RingGuestFront(GuestPeer peer, uint count, int inFlight)
    {
        int n = peer.Send($"ring-front {count} {inFlight}");
        string[] setup = peer.Ok(n, "ring-front", expected: "setup");
        uint reference = uint.Parse(setup[0], CultureInfo.InvariantCulture);
        uint port = uint.Parse(setup[1], CultureInfo.InvariantCulture);
        using IMappedGrants mapping = Grants().Map(peer.DomainId, [reference], GrantAccess.ReadWrite);
        using IEventChannel channel = Events().BindInterdomain(peer.DomainId, port);
        var ring = new BackRing<LabRequest, LabResponse>(mapping.Memory, "dom0-back");
        Expect.True(setup.Length > 2 && setup[2] == ring.Size.ToString(CultureInfo.InvariantCulture), $"both ends size the ring alike (guest {string.Join(' ', setup)}, dom0 {ring.Size})");
        var watch = Stopwatch.StartNew();
        uint served = 0;
        long waits = 0, notifies = 0;
        while (served < count)
        {
            bool any = false;
            while (ring.TryConsumeRequest(out LabRequest request))
            {
                string? wrong = GuestPeerProtocol.CheckRequest(request, served);
                Expect.True(wrong is null, $"every request as the guest must send it: {wrong}");
                ring.ProduceResponse(GuestPeerProtocol.Answer(request));
                served++;
                any = true;
            }

            if (any && ring.PushResponses())
            {
                channel.Notify();
                notifies++;
            }

            if (served == count || ring.FinalCheckForRequests())
            {
                continue;
            }

            waits++;
            Expect.True(channel.Wait(RingWaitMilliseconds) >= 1, $"an event within {RingWaitMilliseconds / 1000} s ({served} of {count} served)");
        }

        double seconds = watch.Elapsed.TotalSeconds;
        string guest = string.Join(' ', peer.Ok(n, "ring-front"));
        return string.Create(CultureInfo.InvariantCulture,
            $"{count} requests, {inFlight} in flight, ring of {ring.Size}: {count / seconds:F0}/s; dom0 notified {notifies}x, slept {waits}x; guest: {guest}");
    }

    public void Dispose()
    {
        _peer?.Dispose();
        _grants?.Dispose();
        _events?.Dispose();
    }

    private static bool Throws(Action action)
    {
        try
        {
            action();
            return false;
        }
        catch (CheckFailedException)
        {
            return true;
        }
    }

    private static uint[] Refs(string list) => [.. list.Split(',').Select(r => uint.Parse(r, CultureInfo.InvariantCulture))];

    private GuestPeer Peer() => _peer ?? throw new CheckFailedException("the guest's peer is not ready (guest.peer-ready)");

    private XenGrantTable Grants() => _grants ?? throw new CheckFailedException("the grant table did not open");

    private XenEventChannels Events() => _events ?? throw new CheckFailedException("the event channel device did not open");
}
