using VirtualDevices.Hosting;
using VirtualDevices.Xen;
using VirtualDevices.Xen.EventChannels;
using VirtualDevices.Xen.Grants;
using VirtualDevices.Xen.Loopback;

namespace VirtualDevices.Tests.Xen;

/// <summary>
/// The choice between real Xen and the loopback hypervisor: the loopback where the Xen device nodes are missing (this
/// machine), real Xen where all three exist (a directory of stand-in nodes, only to see the choice: their behaviour
/// is never used), and the session's hypervisor reused or started on demand.
/// </summary>
public sealed class XenPlatformTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public async Task WithoutXenDeviceNodesTheLoopbackIsStartedOnDemandAndThenReused()
    {
        Assert.False(File.Exists("/dev/xen/evtchn"), "this test is for a machine without Xen");
        Assert.Equal(XenPlatformKind.Loopback, XenPlatform.Detect());

        await using var host = new DeviceHost();
        Assert.Equal(new XenPlatformInfo(XenPlatformKind.Loopback, "/dev/xen", null, null), XenPlatform.Describe(host));
        using (XenPlatform first = await XenPlatform.OpenAsync(host, domainId: 0))
        {
            Assert.Equal(XenPlatformKind.Loopback, first.Kind);
            HostedName<LoopbackHypervisor> started = Assert.Single(host.GetServices<LoopbackHypervisor>());
            Assert.Same(started.Service, first.Hypervisor);
            Assert.Equal("xen-loopback0", first.HypervisorName);
            Assert.Null(started.Service.SocketPath); // on demand: in-process only, no file made

            // A second opening is another domain of the same hypervisor; a page granted by one maps in the other.
            using XenPlatform second = await XenPlatform.OpenAsync(host);
            Assert.Same(first.Hypervisor, second.Hypervisor);
            Assert.Single(host.GetServices<LoopbackHypervisor>());
            Assert.Equal(1, ((LoopbackDomain)second.Grants).DomainId);
            using IGrantedPages granted = first.Grants.Grant(1, 1, GrantAccess.ReadWrite);
            granted.Memory.Span[0] = 0x5A;
            using IMappedGrants mapped = second.Grants.Map(0, granted.References, GrantAccess.ReadOnly);
            Assert.Equal(0x5A, mapped.Memory.Span[0]);
            Assert.Equal([0, 1], started.Service.Domains.Select(d => (int)d.DomainId));
        }

        // Disposed, the domain left; the hypervisor keeps running as the host's service.
        LoopbackHypervisor hypervisor = Assert.Single(host.GetServices<LoopbackHypervisor>()).Service;
        Assert.Empty(hypervisor.Domains);
    }

    [Fact(Timeout = 60_000)]
    public async Task OpeningsAtOnceShareOneHypervisor()
    {
        // Each opening looked for the host's hypervisor and started one when it saw none: two at once could each see
        // none and start two (about 1 round in 300 before the fix: so 300 rounds, about 4 s).
        for (int round = 0; round < 300; round++)
        {
            await using var host = new DeviceHost();
            using var start = new ManualResetEventSlim();
            Task<XenPlatform>[] openings = Enumerable.Range(0, 8)
                .Select(_ => Task.Run(() => { start.Wait(); return XenPlatform.OpenAsync(host); }))
                .ToArray();
            start.Set();
            XenPlatform[] platforms = await Task.WhenAll(openings);
            try
            {
                HostedName<LoopbackHypervisor> only = Assert.Single(host.GetServices<LoopbackHypervisor>());
                Assert.All(platforms, p => Assert.Same(only.Service, p.Hypervisor));
                Assert.Equal(8, platforms.Select(p => ((LoopbackDomain)p.Grants).DomainId).Distinct().Count());
            }
            finally
            {
                foreach (XenPlatform platform in platforms)
                {
                    platform.Dispose();
                }
            }
        }
    }

    [Fact]
    public async Task TheHostsRunningHypervisorIsUsedRatherThanANewOne()
    {
        await using var host = new DeviceHost();
        LoopbackHypervisor mine = await LoopbackHypervisor.StartAsync(host, "mine", null);
        using XenPlatform platform = await XenPlatform.OpenAsync(host);
        Assert.Same(mine, platform.Hypervisor);
        Assert.Equal("mine", platform.HypervisorName);
        Assert.Equal(new XenPlatformInfo(XenPlatformKind.Loopback, "/dev/xen", "mine", null), XenPlatform.Describe(host));
        Assert.Single(host.GetServices<LoopbackHypervisor>());
    }

    [Fact]
    public async Task WithEveryXenDeviceNodeRealXenIsChosenOnThoseNodes()
    {
        // Stand-ins, only so that the nodes exist: the choice is what is tested, not the devices.
        foreach (string node in new[] { "gntalloc", "gntdev", "evtchn" })
        {
            await File.WriteAllBytesAsync(_dir.File(node), []);
        }

        Assert.Equal(XenPlatformKind.Xen, XenPlatform.Detect(_dir.Path));
        await using var host = new DeviceHost();
        Assert.Equal(new XenPlatformInfo(XenPlatformKind.Xen, _dir.Path, null, null), XenPlatform.Describe(host, _dir.Path));
        using XenPlatform platform = await XenPlatform.OpenAsync(host, deviceDirectory: _dir.Path);
        Assert.Equal(XenPlatformKind.Xen, platform.Kind);
        Assert.Null(platform.Hypervisor);
        var grants = Assert.IsType<XenGrantTable>(platform.Grants);
        Assert.Equal(_dir.File("gntalloc"), grants.AllocatorPath);
        Assert.Equal(_dir.File("gntdev"), grants.MapperPath);
        Assert.Equal(_dir.File("evtchn"), Assert.IsType<XenEventChannels>(platform.EventChannels).Path);
        Assert.Empty(host.GetServices<LoopbackHypervisor>()); // no hypervisor started for nothing
    }

    [Theory]
    [InlineData("gntalloc")]
    [InlineData("gntdev")]
    [InlineData("evtchn")]
    public async Task AMissingNodeMeansTheLoopback(string missing)
    {
        foreach (string node in new[] { "gntalloc", "gntdev", "evtchn" }.Where(n => n != missing))
        {
            await File.WriteAllBytesAsync(_dir.File(node), []);
        }

        Assert.Equal(XenPlatformKind.Loopback, XenPlatform.Detect(_dir.Path));
        await using var host = new DeviceHost();
        using XenPlatform platform = await XenPlatform.OpenAsync(host, deviceDirectory: _dir.Path);
        Assert.Equal(XenPlatformKind.Loopback, platform.Kind);
        Assert.IsType<LoopbackDomain>(platform.Grants);
    }
}
