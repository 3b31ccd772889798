using System.Globalization;
using VirtualDevices.Tests.Infrastructure;
using VirtualDevices.Xen.EventChannels;
using VirtualDevices.Xen.Grants;
using VirtualDevices.Xen.Loopback;
using VirtualDevices.Xen.Rings;
using VirtualDevices.XenLoopback.Peer.Rings;
using Xunit.Abstractions;

namespace VirtualDevices.Tests.Xen.Loopback;

/// <summary>
/// A blkif ring between this process (domain 0) and the peer program (tests/VirtualDevices.XenLoopback.Peer, always
/// killed and reaped) over the loopback hypervisor, as a split driver sets it up: the front grants the ring's pages and
/// allocates an unbound port, the back maps the grants and binds the port. A million requests each way (this process
/// the front and the peer the back, then the reverse), tracked by id with the core's request table, every field of
/// every request and response checked (RingExchange.cs: the same loops in both processes); and a four-page ring
/// (ring.h's order 2, 128 entries, all in flight).
/// </summary>
public sealed class LoopbackRingTests : IAsyncLifetime
{
    // A million requests take 5-15 s here on 2 loaded cores; the limit catches a hang, not slowness.
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(120);
    private readonly string _socket = Path.Combine(Path.GetTempPath(), $"vd-loopback-ring-{Guid.NewGuid():N}.sock");
    private readonly ITestOutputHelper _output;
    private LoopbackHypervisor _hypervisor = null!;
    private LoopbackDomain _dom0 = null!;

    public LoopbackRingTests(ITestOutputHelper output) => _output = output;

    public Task InitializeAsync()
    {
        _hypervisor = LoopbackHypervisor.Start(_socket);
        _dom0 = _hypervisor.JoinInProcess(0);
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        _dom0.Dispose();
        await _hypervisor.DisposeAsync();
    }

    [Theory]
    [InlineData(1, 32, 1_000_000)]
    [InlineData(4, 128, 100_000)]
    public async Task ThisProcessIsTheFrontAndThePeerTheBack(int pageCount, int inFlight, int count)
    {
        const ushort peerId = 1;
        using IGrantedPages pages = _dom0.Grant(peerId, pageCount, GrantAccess.ReadWrite);
        var ring = new FrontRing<BlkifRequest, BlkifResponse>(pages.Memory, "blkif front (domain 0)");
        Assert.Equal(32 * pageCount, ring.Size);
        using IEventChannel channel = _dom0.AllocateUnbound(peerId);
        await using ExternalProcess peer = ExternalProcess.Start("dotnet",
            [LoopbackMultiProcessTests.PeerProgram(), "ring-back", _socket, Str(peerId), Str(channel.Port), Str(count), .. pages.References.ToArray().Select(r => Str(r))]);
        await LoopbackMultiProcessTests.ReadLineAsync(peer, "ready");
        Assert.Contains(_hypervisor.Grants, g => g.Granter == 0 && g.Grantee == peerId && g.Reference == pages.References[0]);

        RingExchangeStats front = await RingExchange.RunFrontAsync(ring, channel, (ulong)count, inFlight).WaitAsync(Limit);
        string[] done = await LoopbackMultiProcessTests.ReadLineAsync(peer, "done");

        _output.WriteLine($"front (here): {front}; back (peer): {string.Join(' ', done[1..])}");
        Assert.Equal((ulong)count, front.Requests);
        Assert.Equal(Str(count), done[2]); // "done requests N ...": the peer checked and answered every one
        Assert.False(ring.IsBroken);
        Assert.Equal(ring.RequestProducerPrivate, ring.ResponseConsumer);
    }

    [Theory]
    [InlineData(1, 32, 1_000_000)]
    [InlineData(4, 128, 100_000)]
    public async Task ThePeerIsTheFrontAndThisProcessTheBack(int pageCount, int inFlight, int count)
    {
        await using ExternalProcess peer = ExternalProcess.Start("dotnet", [LoopbackMultiProcessTests.PeerProgram(), "ring-front", _socket, Str(count), Str(pageCount), Str(inFlight)]);
        string[] ready = await LoopbackMultiProcessTests.ReadLineAsync(peer, "ready");
        ushort peerId = ushort.Parse(ready[1], CultureInfo.InvariantCulture);
        uint port = uint.Parse(ready[2], CultureInfo.InvariantCulture);
        uint[] references = ready[3..].Select(r => uint.Parse(r, CultureInfo.InvariantCulture)).ToArray();
        Assert.Equal(pageCount, references.Length);

        using IMappedGrants pages = _dom0.Map(peerId, references, GrantAccess.ReadWrite);
        using IEventChannel channel = _dom0.BindInterdomain(peerId, port);
        var ring = new BackRing<BlkifRequest, BlkifResponse>(pages.Memory, "blkif back (domain 0)");
        Assert.Equal(32 * pageCount, ring.Size);

        RingExchangeStats back = await Task.Factory.StartNew(() => RingExchange.RunBack(ring, channel, (ulong)count), TaskCreationOptions.LongRunning).WaitAsync(Limit);
        string[] done = await LoopbackMultiProcessTests.ReadLineAsync(peer, "done");

        _output.WriteLine($"front (peer): {string.Join(' ', done[1..])}; back (here): {back}");
        Assert.Equal((ulong)count, back.Requests);
        Assert.Equal(Str(count), done[2]); // the peer's front checked every response
        Assert.False(ring.IsBroken);
        Assert.Equal(ring.RequestConsumer, ring.ResponseProducerPrivate);
    }

    private static string Str(long value) => value.ToString(CultureInfo.InvariantCulture);
}
