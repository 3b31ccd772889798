using VirtualDevices.Hosting;
using VirtualDevices.Xen.Loopback;

namespace VirtualDevices.Tests.Xen.Loopback;

/// <summary>
/// Joined domains as services of a <see cref="DeviceHost"/> (what Join-XenLoopbackHypervisor makes): named, listed,
/// left when stopped or when the host closes, through the socket or in-process.
/// </summary>
public sealed class LoopbackHostingTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public async Task JoinedDomainsAreNamedServicesLeftWithTheirHost()
    {
        string socket = _dir.File("xl.sock");
        await using var hypervisorHost = new DeviceHost();
        LoopbackHypervisor hypervisor = await LoopbackHypervisor.StartAsync(hypervisorHost, "xl", socket);
        LoopbackDomain dom0 = await LoopbackDomain.JoinAsync(hypervisorHost, null, hypervisor, domainId: 0);
        Assert.Equal("xen-join0", hypervisorHost.NameOf(dom0));
        Assert.Equal(0, dom0.DomainId);

        LoopbackDomain member;
        await using (var other = new DeviceHost())
        {
            member = await LoopbackDomain.JoinAsync(other, "guest", socket);
            Assert.Equal(1, member.DomainId);
            Assert.Equal(socket, member.Source);
            Assert.Equal("guest", Assert.Single(other.GetServices<LoopbackDomain>()).Name);

            // A name in use is refused before joining: no domain 2 appears.
            var taken = await Assert.ThrowsAsync<DeviceException>(() => LoopbackDomain.JoinAsync(other, "guest", socket));
            Assert.Equal(DeviceErrorIds.Service.NameInUse, taken.ErrorId);
            Assert.Equal([0, 1], hypervisor.Domains.Select(d => (int)d.DomainId));
        }

        // The host closed: its domain left, and the hypervisor dropped it (told through the socket; bounded wait).
        Assert.True(member.IsDisconnected);
        for (int i = 0; i < 500 && hypervisor.Domains.Count > 1; i++)
        {
            await Task.Delay(10);
        }

        Assert.Equal([0], hypervisor.Domains.Select(d => (int)d.DomainId));

        // Stopping the service leaves too; the hypervisor's own stop disconnects whoever is still joined.
        await hypervisorHost.StopServiceAsync(dom0);
        Assert.True(dom0.IsDisconnected);
        Assert.Empty(hypervisorHost.GetServices<LoopbackDomain>());
    }
}
