using System.Net;
using System.Net.Sockets;
using VirtualDevices.Block;
using VirtualDevices.Nbd.Client;
using VirtualDevices.Nbd.Server;

namespace VirtualDevices.Tests.Nbd;

/// <summary>Failures say what went wrong in the user's terms, and a failed server start leaves nothing behind.</summary>
public sealed class NbdErrorReportingTests
{
    [Fact]
    public async Task FailedStartReleasesTheTcpPortAndLeavesTheServerStopped()
    {
        using var dir = new TempDirectory();
        string path = dir.File("busy.sock");
        await using var disk = new MemoryBlockDevice(1 << 20);
        await using var first = new NbdServer(new NbdServerOptions { UnixSocketPath = path }, new NbdExport("", disk));
        await first.StartAsync();

        int port = FreePort();
        await using var second = new NbdServer(
            new NbdServerOptions { TcpEndPoint = new IPEndPoint(IPAddress.Loopback, port), UnixSocketPath = path }, new NbdExport("", disk));
        DeviceException e = await Assert.ThrowsAnyAsync<DeviceException>(() => second.StartAsync());
        Assert.Equal("NbdServerSocketInUse", e.ErrorId);
        Assert.False(second.IsRunning);
        Assert.Null(second.TcpEndPoint);
        Assert.Null(second.UnixSocketPath);

        // The TCP port bound before the unix socket failed is free again: nothing accepts on it, and it can be bound.
        using (var probe = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp))
        {
            SocketException refused = Assert.Throws<SocketException>(() => probe.Connect(IPAddress.Loopback, port));
            Assert.Equal(SocketError.ConnectionRefused, refused.SocketErrorCode);
        }

        using (var rebind = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp))
        {
            rebind.Bind(new IPEndPoint(IPAddress.Loopback, port));
            rebind.Listen(1);
        }

        // A stopped server stays stopped; the first one, and its socket, are untouched.
        await Assert.ThrowsAsync<InvalidOperationException>(() => second.StartAsync());
        await second.StopAsync();
        Assert.True(first.IsRunning);
        await using NbdBlockDevice device = await NbdClient.ConnectAsync($"nbd+unix:///?socket={path}", NbdPeers.Deadline());
        Assert.Equal(1L << 20, device.Info.SizeBytes);
    }

    [Fact]
    public async Task ASecondServerCannotShareATcpPortButAStoppedOnesPortIsFreeAtOnce()
    {
        await using var disk = new MemoryBlockDevice(1 << 20);
        var first = new NbdServer(new NbdServerOptions { TcpEndPoint = new IPEndPoint(IPAddress.Loopback, 0) }, new NbdExport("", disk));
        await first.StartAsync();
        int port = first.TcpEndPoint!.Port;

        // .NET's ReuseAddress would set SO_REUSEPORT too, and this second server would then start and steal clients.
        await using var second = new NbdServer(new NbdServerOptions { TcpEndPoint = new IPEndPoint(IPAddress.Loopback, port) }, new NbdExport("", disk));
        DeviceException e = await Assert.ThrowsAnyAsync<DeviceException>(() => second.StartAsync());
        Assert.Equal("AddressInUse", e.ErrorId);
        Assert.Equal(DeviceErrorCategory.ResourceExists, e.Category);
        Assert.Contains($"127.0.0.1:{port}", e.Message);

        // A port that served a connection can be bound by a new server as soon as the old one stopped.
        await using (NbdBlockDevice device = await NbdClient.ConnectAsync($"nbd://127.0.0.1:{port}/", NbdPeers.Deadline()))
        {
            await device.ReadAsync(0, new byte[512]);
        }

        await first.DisposeAsync();
        await using var third = new NbdServer(new NbdServerOptions { TcpEndPoint = new IPEndPoint(IPAddress.Loopback, port) }, new NbdExport("", disk));
        await third.StartAsync();
        Assert.Equal(port, third.TcpEndPoint!.Port);
    }

    [Fact]
    public async Task ExportsAreSortedByName()
    {
        await using var disk = new MemoryBlockDevice(1 << 20);
        await using var server = new NbdServer(new NbdServerOptions { UnixSocketPath = "\0vd-sorted-" + Guid.NewGuid().ToString("N") },
            new NbdExport("zeta", disk), new NbdExport("alpha", disk), new NbdExport("Mid", disk), new NbdExport("beta", disk));
        server.AddExport(new NbdExport("", disk));
        server.AddExport(new NbdExport("alpha2", disk));
        Assert.Equal(["", "Mid", "alpha", "alpha2", "beta", "zeta"], server.Exports.Select(e => e.Name).ToArray());
        server.RemoveExport("beta");
        Assert.Equal(["", "Mid", "alpha", "alpha2", "zeta"], server.Exports.Select(e => e.Name).ToArray());
    }

    [Fact]
    public async Task UnknownExportNamesTheExport()
    {
        using var dir = new TempDirectory();
        string path = dir.File("named.sock");
        await using var disk = new MemoryBlockDevice(1 << 20);
        await using var server = new NbdServer(new NbdServerOptions { UnixSocketPath = path }, new NbdExport("alpha", disk));
        await server.StartAsync();
        CancellationToken ct = NbdPeers.Deadline();

        DeviceException named = await Assert.ThrowsAnyAsync<DeviceException>(() => NbdClient.ConnectAsync($"nbd+unix:///nosuch?socket={path}", ct));
        Assert.Equal("DeviceNotFound", named.ErrorId);
        Assert.Equal(DeviceErrorCategory.ObjectNotFound, named.Category);
        Assert.Equal("The server has no export named 'nosuch'.", named.Message);

        DeviceException unnamed = await Assert.ThrowsAnyAsync<DeviceException>(() => NbdClient.ConnectAsync($"nbd+unix:///?socket={path}", ct));
        Assert.Equal("DeviceNotFound", unnamed.ErrorId);
        Assert.Contains("has no default export (the export named '')", unnamed.Message);
        Assert.DoesNotContain("No device named", unnamed.Message);
    }

    [Fact]
    public async Task MissingOrDeadUnixSocketSaysSo()
    {
        using var dir = new TempDirectory();
        CancellationToken ct = NbdPeers.Deadline();
        string missing = dir.File("missing.sock");
        DeviceException absent = await Assert.ThrowsAnyAsync<DeviceException>(() => NbdClient.ConnectAsync($"nbd+unix:///?socket={missing}", ct));
        Assert.Equal("SocketNotFound", absent.ErrorId);
        Assert.Equal(DeviceErrorCategory.ObjectNotFound, absent.Category);
        Assert.Contains($"the socket '{missing}' does not exist (no server listens there)", absent.Message);
        Assert.DoesNotContain("Cannot assign requested address", absent.Message);

        // A socket file that exists but where nothing listens (like one left by a server that was killed).
        string stale = dir.File("stale.sock");
        using var bound = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        bound.Bind(new UnixDomainSocketEndPoint(stale));
        DeviceException dead = await Assert.ThrowsAnyAsync<DeviceException>(() => NbdClient.ConnectAsync($"nbd+unix:///?socket={stale}", ct));
        Assert.Equal("ConnectionRefused", dead.ErrorId);
        Assert.Equal(DeviceErrorCategory.ConnectionError, dead.Category);
        Assert.Contains($"nothing listens on the socket '{stale}'", dead.Message);
    }

    private static int FreePort()
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return ((IPEndPoint)socket.LocalEndPoint!).Port;
    }
}
