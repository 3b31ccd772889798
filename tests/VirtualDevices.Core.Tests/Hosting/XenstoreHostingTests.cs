using VirtualDevices.Hosting;
using VirtualDevices.Xen.Xenstore;
using VirtualDevices.Xen.Xenstore.Client;
using VirtualDevices.Xen.Xenstore.Protocol;
using VirtualDevices.Xen.Xenstore.Server;

namespace VirtualDevices.Tests.Hosting;

/// <summary>The session's xenstore connections as a part of the host, and a hosted embedded server.</summary>
public sealed class XenstoreHostingTests
{
    [Fact]
    public async Task AServerStopsWithTheSessionsConnectionsToItAndLeavesTheOthersOpen()
    {
        using var dir = new TempDirectory();
        await using var host = new DeviceHost();
        XenstoreConnections connections = host.GetOrAddPart(() => new XenstoreConnections());
        XenstoreServerService a = await host.StartServiceAsync("xenstore", null, (_, _) =>
            Task.FromResult(new XenstoreServerService(XenstoreServer.Listen(dir.File("a.sock")), connections)));
        XenstoreServerService b = await host.StartServiceAsync("xenstore", null, (_, _) =>
            Task.FromResult(new XenstoreServerService(XenstoreServer.Listen(dir.File("b.sock")), connections)));
        Assert.Equal(["xenstore0", "xenstore1"], host.Services.Select(s => s.Name));

        // The first server becomes the session's store; a second one does not replace it.
        XenstoreClient inProcess = Assert.IsType<XenstoreClient>(connections.UseIfNone(a.Server));
        Assert.Null(connections.UseIfNone(b.Server));
        Assert.Same(inProcess, connections.Current);
        XenstoreClient bySocket = await XenstoreClient.ConnectAsync(dir.File("a.sock"));
        connections.Add(bySocket);
        XenstoreClient other = await XenstoreClient.ConnectAsync(dir.File("b.sock"));
        Assert.Same(inProcess, connections.Use(other));
        Assert.Same(other, connections.Current);
        Assert.Equal([inProcess, bySocket], connections.ClientsOf(a.Server));

        await inProcess.WriteAsync("/x", "1");
        await host.StopServiceAsync(a);
        Assert.False(inProcess.IsConnected);
        Assert.False(bySocket.IsConnected);
        Assert.Equal([other], connections.Clients);
        Assert.True(other.IsConnected);
        Assert.Same(other, await connections.ResolveAsync(null));
        Assert.Same(inProcess, await connections.ResolveAsync(inProcess));

        // Closing the host closes what is left: the part's connections and the second server.
        await host.DisposeAsync();
        Assert.False(other.IsConnected);
        Assert.Empty(connections.Clients);
        Assert.False(b.Server.IsRunning);
    }

    [Fact]
    public async Task ForgettingTheCurrentConnectionLeavesNone()
    {
        using var dir = new TempDirectory();
        await using var server = XenstoreServer.Listen(dir.File("s.sock"));
        await using var connections = new XenstoreConnections();
        XenstoreClient first = await XenstoreClient.ConnectAsync(dir.File("s.sock"));
        XenstoreClient second = XenstoreClient.ConnectInProcess(server);
        Assert.Null(connections.Use(first));
        Assert.Same(first, connections.Use(second, server));
        connections.Remove(second);
        Assert.Null(connections.Current);
        Assert.Equal([first], connections.Clients);
        await second.DisposeAsync();
    }
}
