using System.Globalization;
using VirtualDevices.Tests.Infrastructure;
using VirtualDevices.Tests.Xenstore;
using VirtualDevices.Xen.Xenbus;
using VirtualDevices.Xen.Xenstore;
using VirtualDevices.Xen.Xenstore.Client;

namespace VirtualDevices.Tests.Xen;

/// <summary>
/// The xenbus state machine between a frontend in domain 1 and a backend in domain 0, over the embedded xenstore
/// server (each connection bound to its domain, so permissions are the ones a real guest meets), with the xenstore
/// tools reading what we wrote, and the states checked against xen/io/xenbus.h.
/// </summary>
public sealed class XenbusDeviceTests : IAsyncLifetime
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(10);
    private static readonly XenbusAddress Vif = new("vif", FrontendDomainId: 1, BackendDomainId: 0, DeviceId: 0);
    private XenstoreTestServer _server = null!;
    private XenstoreClient _dom0 = null!;
    private XenstoreClient _guest = null!;

    public async Task InitializeAsync()
    {
        _server = XenstoreTestServer.Start();
        _dom0 = _server.ConnectAsDomain(0);
        _guest = _server.ConnectAsDomain(1);
        await _dom0.IntroduceDomainAsync(1, 0, 0);
        await XenbusToolstack.CreateAsync(_dom0, Vif, backendKeys: new Dictionary<string, string> { ["mac"] = "00:16:3e:00:00:01" });
    }

    public async Task DisposeAsync()
    {
        await _guest.DisposeAsync();
        await _dom0.DisposeAsync();
        await _server.DisposeAsync();
    }

    [Fact]
    public async Task TheStatesAreThoseOfXenbusH()
    {
        using var temp = new TempDirectory();
        const string source = """
            #include <stdio.h>
            #include <xen/io/xenbus.h>
            int main(void) {
                printf("%d %d %d %d %d %d %d %d %d\n", XenbusStateUnknown, XenbusStateInitialising, XenbusStateInitWait,
                    XenbusStateInitialised, XenbusStateConnected, XenbusStateClosing, XenbusStateClosed,
                    XenbusStateReconfiguring, XenbusStateReconfigured);
                return 0;
            }
            """;
        string program = await CCompiler.CompileAsync(temp.Path, "xenbus", source);
        ProcessResult result = (await ExternalProcess.RunAsync(program, [])).EnsureSuccess("xenbus");
        string ours = string.Join(' ', Enum.GetValues<XenbusState>().Select(s => ((int)s).ToString(CultureInfo.InvariantCulture)));
        Assert.Equal(result.StandardOutput.Trim(), ours);
        Assert.Equal(["Unknown", "Initialising", "InitWait", "Initialised", "Connected", "Closing", "Closed", "Reconfiguring", "Reconfigured"],
            Enum.GetNames<XenbusState>());
    }

    [Fact]
    public async Task TheToolstackLaysOutBothEndsAsLibxlDoesAndEachDomainWritesOnlyItsOwn()
    {
        Assert.Equal("/local/domain/1/device/vif/0", Vif.FrontendPath);
        Assert.Equal("/local/domain/0/backend/vif/1/0", Vif.BackendPath);
        Assert.Equal("1", await _guest.ReadStringAsync(Vif.FrontendPath + "/state"));
        Assert.Equal(Vif.BackendPath, await _guest.ReadStringAsync(Vif.FrontendPath + "/backend"));
        Assert.Equal("0", await _guest.ReadStringAsync(Vif.FrontendPath + "/backend-id"));
        Assert.Equal(Vif.FrontendPath, await _guest.ReadStringAsync(Vif.BackendPath + "/frontend"));
        Assert.Equal("00:16:3e:00:00:01", await _guest.ReadStringAsync(Vif.BackendPath + "/mac"));
        Assert.Equal("r1", (await _dom0.GetPermissionsAsync(Vif.BackendPath + "/state")).Entries[1].ToString());

        // The guest may write its own end, not the backend's.
        await _guest.WriteAsync(Vif.FrontendPath + "/ring-ref", "8");
        var denied = await Assert.ThrowsAsync<XenstoreException>(() => _guest.WriteAsync(Vif.BackendPath + "/state", "4").AsTask());
        Assert.Equal("EACCES", denied.ErrorName);

        // The C tools see the same tree (a real peer reading what our toolstack wrote).
        ProcessResult ls = (await ExternalProcess.RunAsync("xenstore-ls", [Vif.BackendPath], environment: _server.Environment)).EnsureSuccess("xenstore-ls");
        Assert.Contains("frontend-id = \"1\"", ls.StandardOutput, StringComparison.Ordinal);
        Assert.Contains("state = \"1\"", ls.StandardOutput, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ABackendOfAnotherTypeLivesUnderItsOwnTypeAndTheFrontendFindsItByItsBackendKey()
    {
        // As libxl files a QEMU-served disk under backend/qdisk for a vbd frontend: dom0's kernel driver of the
        // frontend's type never sees it (the lab's netfront check relies on this beside xen-netback).
        var served = new XenbusAddress("vif", FrontendDomainId: 1, BackendDomainId: 0, DeviceId: 3) { BackendType = "vd-vif" };
        Assert.Equal("/local/domain/1/device/vif/3", served.FrontendPath);
        Assert.Equal("/local/domain/0/backend/vd-vif/1/3", served.BackendPath);
        Assert.Equal("/local/domain/0/backend/vif/1/0", Vif.BackendPath);
        await XenbusToolstack.CreateAsync(_dom0, served);
        XenbusDevice front = await XenbusDevice.OpenAsync(_guest, XenbusRole.Frontend, served.FrontendPath);
        Assert.Equal(served.BackendPath, front.PeerPath);
        Assert.Equal(XenbusState.Initialising, await front.ReadPeerStateAsync());
        Assert.False(await _dom0.ExistsAsync("/local/domain/0/backend/vif/1/3"));
        await XenbusToolstack.RemoveAsync(_dom0, served);
        Assert.False(await _dom0.ExistsAsync(served.BackendPath));
    }

    [Fact]
    public async Task FrontendAndBackendConnectThroughTheStatesAndCloseFromTheFrontend()
    {
        XenbusDevice back = await XenbusDevice.OpenAsync(_dom0, XenbusRole.Backend, Vif.BackendPath);
        XenbusDevice front = await XenbusDevice.OpenAsync(_guest, XenbusRole.Frontend, Vif.FrontendPath);
        Assert.Equal((Vif.FrontendPath, 1), (back.PeerPath, back.PeerDomainId));
        Assert.Equal((Vif.BackendPath, 0), (front.PeerPath, front.PeerDomainId));

        Task backend = Task.Run(async () =>
        {
            await back.WriteFeatureAsync("sg", true);
            await back.WriteFeatureAsync("gso-tcpv4", false);
            await back.SwitchStateAsync(XenbusState.InitWait);
            await back.WaitForPeerStateAsync(s => s is XenbusState.Initialised or XenbusState.Connected, Patience);
            Assert.Equal("768", await back.TryReadPeerAsync("tx-ring-ref"));
            await back.SwitchStateAsync(XenbusState.Connected);
            await back.WaitForPeerStateAsync(s => s == XenbusState.Closing, Patience);
            await back.CloseAsync(Patience);
        });

        Assert.Equal(XenbusState.InitWait, await front.WaitForPeerStateAsync(s => s == XenbusState.InitWait, Patience));
        Assert.True(await front.PeerHasFeatureAsync("sg"));
        Assert.False(await front.PeerHasFeatureAsync("gso-tcpv4"));
        Assert.False(await front.PeerHasFeatureAsync("never-written"));
        await front.WriteAsync("tx-ring-ref", "768");
        await front.SwitchStateAsync(XenbusState.Initialised);
        Assert.Equal(XenbusState.Connected, await front.WaitForPeerStateAsync(s => s == XenbusState.Connected, Patience));
        await front.SwitchStateAsync(XenbusState.Connected);

        XenbusState peerAtClose = await front.CloseAsync(Patience);
        Assert.Contains(peerAtClose, new[] { XenbusState.Closing, XenbusState.Closed });
        await backend.WaitAsync(Patience);
        Assert.Equal(XenbusState.Closed, await front.ReadStateAsync());
        Assert.Equal(XenbusState.Closed, await back.ReadStateAsync());
    }

    [Fact]
    public async Task TheBackendCanStartTheCloseAndThePeerStatesStreamInOrder()
    {
        XenbusDevice back = await XenbusDevice.OpenAsync(_dom0, XenbusRole.Backend, Vif.BackendPath);
        XenbusDevice front = await XenbusDevice.OpenAsync(_guest, XenbusRole.Frontend, Vif.FrontendPath);
        await back.SwitchStateAsync(XenbusState.Connected);
        await front.SwitchStateAsync(XenbusState.Connected);

        using var stop = new CancellationTokenSource(Patience);
        var seen = new List<XenbusState>();
        var watchingNow = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Task watching = Task.Run(async () =>
        {
            await foreach (XenbusState s in front.WatchPeerStateAsync(stop.Token))
            {
                seen.Add(s);
                watchingNow.TrySetResult();
                if (s == XenbusState.Closing)
                {
                    await front.CloseAsync(Patience);
                }

                if (s == XenbusState.Closed)
                {
                    return;
                }
            }
        });

        // The backend closes: it waits for the frontend to let go, then is Closed; the frontend saw every step.
        await watchingNow.Task.WaitAsync(Patience);
        await back.CloseAsync(Patience);
        await watching.WaitAsync(Patience);
        Assert.Equal([XenbusState.Connected, XenbusState.Closing, XenbusState.Closed], seen);
        Assert.Equal(XenbusState.Closed, await front.ReadStateAsync());
    }

    [Fact]
    public async Task APeerWhoseDeviceIsRemovedIsReportedGoneNotWaitedOn()
    {
        XenbusDevice front = await XenbusDevice.OpenAsync(_guest, XenbusRole.Frontend, Vif.FrontendPath);
        Task<XenbusState> waiting = front.WaitForPeerStateAsync(s => s == XenbusState.Connected, TimeSpan.FromMinutes(5)).AsTask();
        await Task.Delay(100);
        await XenbusToolstack.RemoveAsync(_dom0, Vif);
        var gone = await Assert.ThrowsAsync<DeviceException>(() => waiting.WaitAsync(Patience));
        Assert.Equal("XenbusPeerGone", gone.ErrorId);
        Assert.Equal(DeviceErrorCategory.ConnectionError, gone.Category);

        // Writing a state now does not bring the removed directory back.
        var missing = await Assert.ThrowsAsync<DeviceException>(() => front.SwitchStateAsync(XenbusState.Closing).AsTask());
        Assert.Equal("XenbusDeviceMissing", missing.ErrorId);
        Assert.False(await _dom0.ExistsAsync(Vif.FrontendPath));
    }

    [Fact]
    public async Task AFrontendDomainThatIsReleasedIsReportedGoneToItsBackend()
    {
        XenbusDevice back = await XenbusDevice.OpenAsync(_dom0, XenbusRole.Backend, Vif.BackendPath);
        await back.SwitchStateAsync(XenbusState.InitWait);
        Task<XenbusState> waiting = back.WaitForPeerStateAsync(s => s == XenbusState.Initialised, TimeSpan.FromMinutes(5)).AsTask();
        await Task.Delay(100);
        await _dom0.ReleaseDomainAsync(1);
        var gone = await Assert.ThrowsAsync<DeviceException>(() => waiting.WaitAsync(Patience));
        Assert.Equal("XenbusPeerGone", gone.ErrorId);
        Assert.Contains("domain 1 was released", gone.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task APeerThatWritesGarbageOrNeverMovesGetsATypedError()
    {
        XenbusDevice back = await XenbusDevice.OpenAsync(_dom0, XenbusRole.Backend, Vif.BackendPath);
        XenbusDevice front = await XenbusDevice.OpenAsync(_guest, XenbusRole.Frontend, Vif.FrontendPath);

        var slow = await Assert.ThrowsAsync<DeviceException>(() => front.WaitForPeerStateAsync(s => s == XenbusState.Connected, TimeSpan.FromSeconds(1)).AsTask());
        Assert.Equal("XenbusStateTimeout", slow.ErrorId);
        Assert.Equal(DeviceErrorCategory.OperationTimeout, slow.Category);
        Assert.Contains(Vif.BackendPath, slow.Message, StringComparison.Ordinal);

        foreach (string garbage in new[] { "connected", "9", "-1", "4x", "" })
        {
            await _dom0.WriteAsync(Vif.BackendPath + "/state", garbage);
            var bad = await Assert.ThrowsAsync<DeviceException>(() => front.ReadPeerStateAsync().AsTask());
            Assert.Equal("XenbusBadNode", bad.ErrorId);
            Assert.Equal(DeviceErrorCategory.ProtocolError, bad.Category);
        }

        await _dom0.WriteAsync(Vif.BackendPath + "/feature-sg", "yes");
        Assert.Equal("XenbusBadNode", (await Assert.ThrowsAsync<DeviceException>(() => front.PeerHasFeatureAsync("sg").AsTask())).ErrorId);
        Assert.Throws<ArgumentOutOfRangeException>(() => back.SwitchStateAsync(XenbusState.Unknown));
        Assert.Throws<ArgumentOutOfRangeException>(() => back.SwitchStateAsync((XenbusState)42));
    }

    [Fact]
    public async Task OpeningSomethingThatIsNotADeviceSaysSo()
    {
        var missing = await Assert.ThrowsAsync<DeviceException>(() => XenbusDevice.OpenAsync(_guest, XenbusRole.Frontend, "/local/domain/1/device/vif/7").AsTask());
        Assert.Equal("XenbusDeviceMissing", missing.ErrorId);
        Assert.Equal(DeviceErrorCategory.ObjectNotFound, missing.Category);

        await _dom0.WriteAsync(Vif.FrontendPath + "/backend-id", "dom0");
        var bad = await Assert.ThrowsAsync<DeviceException>(() => XenbusDevice.OpenAsync(_guest, XenbusRole.Frontend, Vif.FrontendPath).AsTask());
        Assert.Equal("XenbusBadNode", bad.ErrorId);
    }
}
