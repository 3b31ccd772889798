using VirtualDevices.Hosting;
using VirtualDevices.Xen.Grants;
using VirtualDevices.Xen.Loopback;

namespace VirtualDevices.Tests.Xen.Loopback;

/// <summary>
/// Grants over the loopback hypervisor between two domains of this process (the same protocol and memfd pages as
/// between processes): share, map, read-only, bad references, ending while mapped, copies, a domain that leaves.
/// </summary>
public sealed class LoopbackGrantTests : IAsyncLifetime
{
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(10);

    private LoopbackHypervisor _hypervisor = null!;
    private LoopbackDomain _dom0 = null!;
    private LoopbackDomain _dom1 = null!;

    public Task InitializeAsync()
    {
        _hypervisor = LoopbackHypervisor.Start();
        _dom0 = _hypervisor.JoinInProcess(0);
        _dom1 = _hypervisor.JoinInProcess(arenaPages: 16);
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        _dom1.Dispose();
        _dom0.Dispose();
        await _hypervisor.DisposeAsync();
    }

    [Fact]
    public void DomainsGetTheirIdsAndTheHypervisorListsThem()
    {
        Assert.Equal(0, _dom0.DomainId);
        Assert.Equal(1, _dom1.DomainId);
        Assert.Equal([0, 1], _hypervisor.Domains.Select(d => (int)d.DomainId));
        var error = Assert.Throws<DeviceException>(() => _hypervisor.JoinInProcess(1));
        Assert.Equal(DeviceErrorIds.XenLoopback.DomainIdInUse, error.ErrorId);
        Assert.Equal(2, _hypervisor.Domains.Count);
    }

    [Fact]
    public void GrantedPagesAreSharedBothWaysThroughTheMapping()
    {
        using IGrantedPages granted = _dom1.Grant(0, 3, GrantAccess.ReadWrite);
        Assert.Equal(3, granted.References.Length);
        Assert.Equal(3 * _dom1.PageSize, granted.Memory.Length);
        Assert.True(granted.Memory.Span.IndexOfAnyExcept((byte)0) < 0, "new granted pages are zeroed");
        Random.Shared.NextBytes(granted.Memory.Span);

        // Mapped in reverse order: page i of the mapping is page 2 - i of the grant (a reserved range, page by page).
        uint[] reversed = granted.References.ToArray().Reverse().ToArray();
        using IMappedGrants mapping = _dom0.Map(1, reversed, GrantAccess.ReadWrite);
        int page = _dom0.PageSize;
        for (int i = 0; i < 3; i++)
        {
            Assert.True(mapping.Memory.Span.Slice(i * page, page).SequenceEqual(granted.Memory.Span.Slice((2 - i) * page, page)), $"page {i}");
        }

        mapping.Memory.Span[5] = 0xAB;
        Assert.Equal(0xAB, granted.Memory.Span[(2 * page) + 5]);
        Assert.Equal(GrantPeerUse.Mapped, granted.PeerUse);
        Assert.Contains(_hypervisor.Grants, g => g.Granter == 1 && g.Reference == reversed[0] && g.Grantee == 0 && g.MapCount == 1 && !g.ReadOnly);
    }

    [Fact]
    public void TheArrayFormsForScriptsCopyInAndOutCheckedAndNeverWriteAReadOnlyMapping()
    {
        // What a PowerShell script can call (no spans): the references as an array, Map with an array, Read and Write.
        IGrantedPages granted = _dom1.Grant(0, 2, GrantAccess.ReadWrite);
        uint[] references = granted.GetReferences();
        Assert.Equal(granted.References.ToArray(), references);
        int page = _dom1.PageSize;
        granted.Write(page - 3, [1, 2, 3, 4, 5, 6]); // across the page boundary
        IGrantTable table = _dom0;
        using IMappedGrants mapping = table.Map(1, references, GrantAccess.ReadWrite);
        Assert.Equal(references, mapping.GetReferences());
        Assert.Equal([1, 2, 3, 4, 5, 6], mapping.Read(page - 3, 6));
        mapping.Write(0, [9, 8, 7]);
        Assert.Equal([9, 8, 7], granted.Read(0, 3));

        // Out of range, negative, null: typed, nothing copied.
        Assert.Throws<ArgumentOutOfRangeException>(() => mapping.Read((2 * page) - 2, 3));
        Assert.Throws<ArgumentOutOfRangeException>(() => mapping.Read(-1, 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => granted.Write(2 * page, [1]));
        Assert.Throws<ArgumentNullException>(() => granted.Write(0, null!));
        Assert.Throws<ArgumentNullException>(() => table.Map(1, (uint[])null!, GrantAccess.ReadOnly));

        // A read-only mapping is never written (through its span a write would fault the process).
        using (IMappedGrants readOnly = table.Map(1, references, GrantAccess.ReadOnly))
        {
            Assert.Throws<InvalidOperationException>(() => readOnly.Write(0, [1]));
            Assert.Equal([9, 8, 7], readOnly.Read(0, 3));
        }

        mapping.Dispose();
        Assert.Throws<ObjectDisposedException>(() => mapping.Read(0, 1));
        granted.Dispose();
        Assert.Throws<ObjectDisposedException>(() => granted.Read(0, 1));
    }

    [Fact]
    public void AReadOnlyGrantMapsReadOnlyAndIsRefusedWritable()
    {
        using IGrantedPages granted = _dom1.Grant(0, 1, GrantAccess.ReadOnly);
        granted.Memory.Span.Fill(0x5A);
        var error = Assert.Throws<DeviceException>(() => _dom0.Map(1, granted.References, GrantAccess.ReadWrite));
        Assert.Equal(DeviceErrorIds.XenLoopback.GrantReadOnly, error.ErrorId);
        Assert.Equal(DeviceErrorCategory.PermissionDenied, error.Category);
        var copy = Assert.Throws<DeviceException>(() => _dom0.CopyToGrant(1, granted.References[0], 0, [1, 2, 3]));
        Assert.Equal(DeviceErrorIds.XenLoopback.GrantReadOnly, copy.ErrorId);

        using IMappedGrants mapping = _dom0.Map(1, granted.References, GrantAccess.ReadOnly);
        Assert.True(mapping.Memory.Span.IndexOfAnyExcept((byte)0x5A) < 0);
        Assert.Equal(GrantAccess.ReadOnly, mapping.Access);
    }

    [Fact]
    public void ReferencesNeverGrantedOrGrantedToAnotherDomainAreRefused()
    {
        var never = Assert.Throws<DeviceException>(() => _dom0.Map(1, [12345], GrantAccess.ReadOnly));
        Assert.Equal(DeviceErrorIds.XenLoopback.GrantNotFound, never.ErrorId);

        // Granted by domain 1 to domain 7: domain 0 may not map it, nor may domain 1 map its own grant.
        using IGrantedPages toSeven = _dom1.Grant(7, 1, GrantAccess.ReadWrite);
        Assert.Equal(DeviceErrorIds.XenLoopback.GrantNotFound, Assert.Throws<DeviceException>(() => _dom0.Map(1, toSeven.References, GrantAccess.ReadOnly)).ErrorId);
        var noDomain = Assert.Throws<DeviceException>(() => _dom0.Map(42, [8], GrantAccess.ReadOnly));
        Assert.Equal(DeviceErrorIds.XenLoopback.DomainNotFound, noDomain.ErrorId);

        // A list with one bad reference maps nothing.
        using IGrantedPages good = _dom1.Grant(0, 1, GrantAccess.ReadWrite);
        Assert.Throws<DeviceException>(() => _dom0.Map(1, [good.References[0], 99999], GrantAccess.ReadOnly));
        Assert.Equal(GrantPeerUse.NotMapped, good.PeerUse);
    }

    [Fact]
    public async Task AGrantEndedWhileMappedKeepsItsPageUntilThePeerLetsGo()
    {
        IGrantedPages granted = _dom1.Grant(0, 1, GrantAccess.ReadWrite);
        granted.Memory.Span.Fill(0x11);
        IMappedGrants mapping = _dom0.Map(1, granted.References, GrantAccess.ReadWrite);
        int inUse = _dom1.ArenaPagesInUse;

        Assert.Equal(GrantEndResult.Deferred, granted.End());
        Assert.True(granted.IsEnded);
        Assert.Equal(GrantEndResult.Deferred, granted.End());
        Assert.Throws<ObjectDisposedException>(() => granted.Memory.Span[0]);
        Assert.Equal(GrantPeerUse.Mapped, granted.PeerUse);
        Assert.False(granted.WhenReleasedAsync().IsCompleted);

        // The mapper still reads and writes the page; nobody else gets it meanwhile, and it can be mapped no more.
        Assert.True(mapping.Memory.Span.IndexOfAnyExcept((byte)0x11) < 0);
        Assert.Equal(DeviceErrorIds.XenLoopback.GrantNotFound, Assert.Throws<DeviceException>(() => _dom0.Map(1, granted.References, GrantAccess.ReadOnly)).ErrorId);
        Assert.Equal(inUse, _dom1.ArenaPagesInUse);
        var others = Enumerable.Range(0, _dom1.ArenaPages - inUse).Select(_ => _dom1.Grant(0, 1, GrantAccess.ReadWrite)).ToList();
        Assert.Equal(DeviceErrorIds.XenLoopback.GrantLimitReached, Assert.Throws<DeviceException>(() => _dom1.Grant(0, 1, GrantAccess.ReadWrite)).ErrorId);
        mapping.Memory.Span.Fill(0x22);
        Assert.All(others, o => Assert.True(o.Memory.Span.IndexOfAnyExcept((byte)0) < 0, "no other grant shares the ended page"));

        // Unmapped: released, and its page is the one free page again (zeroed when granted anew).
        mapping.Dispose();
        await granted.WhenReleasedAsync().WaitAsync(Limit);
        Assert.Equal(GrantPeerUse.NotMapped, granted.PeerUse);
        Assert.DoesNotContain(_hypervisor.Grants, g => g.Granter == 1 && g.Reference == granted.References[0]);
        using IGrantedPages again = _dom1.Grant(0, 1, GrantAccess.ReadWrite);
        Assert.True(again.Memory.Span.IndexOfAnyExcept((byte)0) < 0, "a page granted again is zeroed");
        others.ForEach(o => Assert.Equal(GrantEndResult.Ended, o.End()));
    }

    [Fact]
    public async Task AGrantNobodyMapsEndsAtOnceAndItsPageIsFree()
    {
        int before = _dom1.ArenaPagesInUse;
        IGrantedPages granted = _dom1.Grant(0, 2, GrantAccess.ReadWrite);
        Assert.Equal(before + 2, _dom1.ArenaPagesInUse);
        Assert.Equal(GrantPeerUse.NotMapped, granted.PeerUse);
        Assert.Equal(GrantEndResult.Ended, granted.End());
        await granted.WhenReleasedAsync().WaitAsync(Limit);
        Assert.Equal(before, _dom1.ArenaPagesInUse);
        Assert.Equal(DeviceErrorIds.XenLoopback.GrantNotFound, Assert.Throws<DeviceException>(() => _dom0.Map(1, granted.References, GrantAccess.ReadOnly)).ErrorId);
    }

    [Fact]
    public void GrantCopyReadsAndWritesWithoutAMappingLeftBehind()
    {
        using IGrantedPages granted = _dom1.Grant(0, 1, GrantAccess.ReadWrite);
        _dom0.CopyToGrant(1, granted.References[0], 100, "hello"u8);
        Assert.Equal("hello"u8.ToArray(), granted.Memory.Span.Slice(100, 5).ToArray());
        byte[] read = new byte[5];
        _dom0.CopyFromGrant(1, granted.References[0], 100, read);
        Assert.Equal("hello"u8.ToArray(), read);
        Assert.Equal(GrantPeerUse.NotMapped, granted.PeerUse);
        Assert.Throws<ArgumentOutOfRangeException>(() => _dom0.CopyFromGrant(1, granted.References[0], _dom0.PageSize - 2, read));
    }

    [Fact]
    public async Task ADomainThatLeavesHasItsGrantsEndedAndItsMapsReleased()
    {
        using LoopbackDomain dom2 = _hypervisor.JoinInProcess();
        IGrantedPages mine = _dom1.Grant(dom2.DomainId, 1, GrantAccess.ReadWrite);
        IMappedGrants theirs = dom2.Map(1, mine.References, GrantAccess.ReadWrite);
        IGrantedPages byDom2 = dom2.Grant(0, 1, GrantAccess.ReadWrite);
        byDom2.Memory.Span.Fill(0x77);
        using IMappedGrants mappedFromDom2 = _dom0.Map(dom2.DomainId, byDom2.References, GrantAccess.ReadOnly);
        Assert.Equal(GrantEndResult.Deferred, mine.End());

        dom2.Dispose();

        // Its map of domain 1's page went with it: the grant ended meanwhile is released.
        await mine.WhenReleasedAsync().WaitAsync(Limit);
        Assert.DoesNotContain(_hypervisor.Domains, d => d.DomainId == dom2.DomainId);
        Assert.DoesNotContain(_hypervisor.Grants, g => g.Granter == dom2.DomainId || g.Grantee == dom2.DomainId);
        Assert.Throws<ObjectDisposedException>(() => theirs.Memory.Span[0]);

        // Its own grant ended with it, but the page domain 0 maps stays readable (the mapping holds the memfd).
        Assert.True(mappedFromDom2.Memory.Span.IndexOfAnyExcept((byte)0x77) < 0);
        Assert.Equal(DeviceErrorIds.XenLoopback.DomainNotFound, Assert.Throws<DeviceException>(() => _dom0.Map(dom2.DomainId, byDom2.References, GrantAccess.ReadOnly)).ErrorId);
    }

    [Fact]
    public async Task TheHypervisorRunsAsANamedServiceOfADeviceHost()
    {
        string socket = Path.Combine(Path.GetTempPath(), $"vd-loopback-{Guid.NewGuid():N}.sock");
        await using var host = new DeviceHost();
        LoopbackHypervisor hypervisor = await LoopbackHypervisor.StartAsync(host, null, socket);
        Assert.Equal("xen-loopback0", host.NameOf(hypervisor));
        Assert.Equal(socket, hypervisor.SocketPath);
        using (LoopbackDomain domain = LoopbackDomain.Join(socket))
        {
            Assert.Equal(1, domain.DomainId);
            Assert.Single(hypervisor.Domains);
        }

        var taken = await Assert.ThrowsAsync<DeviceException>(() => LoopbackHypervisor.StartAsync(host, null, socket));
        Assert.Equal(DeviceErrorIds.XenLoopback.SocketInUse, taken.ErrorId);
        await host.StopServiceAsync(hypervisor);
        Assert.False(File.Exists(socket));
        Assert.Equal(DeviceErrorIds.XenLoopback.ConnectFailed, Assert.Throws<DeviceException>(() => LoopbackDomain.Join(socket)).ErrorId);
    }
}
