using System.Net.Sockets;
using System.Net;
using VirtualDevices.Block;
using VirtualDevices.Nbd.Client;
using VirtualDevices.Nbd.Server;
using VirtualDevices.Tests.Infrastructure;
using VirtualDevices.Xen.Loopback;
using VirtualDevices.Xen.Xenstore;
using VirtualDevices.Xen.Xenstore.Client;
using VirtualDevices.Xen.Xenstore.Server;

namespace VirtualDevices.Tests.Devices;

/// <summary>
/// What the NBD and xenstore servers do with the path given for their unix socket: only a socket nobody listens on
/// is replaced; a file of any other kind survives byte for byte; on stop only the server's own socket is removed.
/// </summary>
public sealed class ServerSocketPathTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    public static TheoryData<string> Servers => ["nbd", "xenstore", "xen-loopback"];

    private static async Task<IAsyncDisposable> Start(string kind, string path)
    {
        if (kind == "xenstore")
        {
            return XenstoreServer.Listen(path);
        }

        if (kind == "xen-loopback")
        {
            return LoopbackHypervisor.Start(path);
        }

        var disk = new MemoryBlockDevice(1 << 20);
        var server = new NbdServer(new NbdServerOptions { UnixSocketPath = path }, new NbdExport("", disk));
        await server.StartAsync();
        return server;
    }

    private static async Task ConnectAsync(string kind, string path)
    {
        if (kind == "xenstore")
        {
            await using XenstoreClient client = await XenstoreClient.ConnectAsync(path);
            await client.WriteAsync("/probe", "1");
            return;
        }

        if (kind == "xen-loopback")
        {
            using LoopbackDomain domain = LoopbackDomain.Join(path);
            Assert.Equal(1, domain.DomainId);
            return;
        }

        await using NbdBlockDevice device = await NbdClient.ConnectAsync($"nbd+unix:///?socket={path}", new CancellationTokenSource(TimeSpan.FromSeconds(30)).Token);
        Assert.Equal(1L << 20, device.Info.SizeBytes);
    }

    [Theory]
    [MemberData(nameof(Servers))]
    public async Task ARegularFileAtTheSocketPathIsRefusedAndSurvivesByteForByte(string kind)
    {
        string precious = _dir.PatternFile("precious.img", 64 * 1024);
        DeviceException e = await Assert.ThrowsAnyAsync<DeviceException>(() => Start(kind, precious));
        Assert.Equal("SocketPathNotSocket", e.ErrorId);
        Assert.Equal(DeviceErrorCategory.ResourceExists, e.Category);
        Assert.Contains("a regular file", e.Message);
        Assert.Equal(TempDirectory.Pattern(64 * 1024), await File.ReadAllBytesAsync(precious));
    }

    [Theory]
    [MemberData(nameof(Servers))]
    public async Task AnEmptyRegularFileIsRefusedAndKept(string kind)
    {
        // Empty, as a file just made by touch: the loopback hypervisor once took any empty file nobody answered on
        // for a stale socket and deleted it.
        string empty = _dir.File("empty");
        await File.WriteAllBytesAsync(empty, []);
        DeviceException e = await Assert.ThrowsAnyAsync<DeviceException>(() => Start(kind, empty));
        Assert.Equal("SocketPathNotSocket", e.ErrorId);
        Assert.True(File.Exists(empty));
    }

    [Theory]
    [MemberData(nameof(Servers))]
    public async Task ADirectoryAFifoAndASymbolicLinkAreRefusedAndLeftAsTheyWere(string kind)
    {
        string directory = Directory.CreateDirectory(_dir.File("dir")).FullName;
        File.WriteAllText(Path.Combine(directory, "inside"), "kept");
        string fifo = _dir.File("fifo");
        (await ExternalProcess.RunAsync("mkfifo", [fifo])).EnsureSuccess("mkfifo");
        string target = _dir.PatternFile("target.img", 4096, seed: 7);
        string link = _dir.File("link");
        File.CreateSymbolicLink(link, target);

        foreach ((string path, string what) in new[] { (directory, "a directory"), (fifo, "a fifo"), (link, "a symbolic link") })
        {
            DeviceException e = await Assert.ThrowsAnyAsync<DeviceException>(() => Start(kind, path));
            Assert.Equal("SocketPathNotSocket", e.ErrorId);
            Assert.Contains(what, e.Message);
        }

        Assert.Equal("kept", File.ReadAllText(Path.Combine(directory, "inside")));
        Assert.Equal(FileAttributes.ReparsePoint, new FileInfo(link).Attributes & FileAttributes.ReparsePoint);
        Assert.Equal(target, new FileInfo(link).LinkTarget);
        Assert.Equal(TempDirectory.Pattern(4096, seed: 7), await File.ReadAllBytesAsync(target));
        (await ExternalProcess.RunAsync("test", ["-p", fifo])).EnsureSuccess("test -p");
    }

    [Theory]
    [MemberData(nameof(Servers))]
    public async Task AStaleSocketIsReplacedAndTheSocketIsRemovedOnStop(string kind)
    {
        string path = _dir.File("stale.sock");
        // Bound by a process that ends without unlinking it: what a server that was killed leaves behind. (Not a
        // .NET socket: .NET unlinks the path of a socket it bound when the socket is disposed.)
        (await ExternalProcess.RunAsync("python3", ["-c", "import socket,sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])", path])).EnsureSuccess("python3");

        Assert.True(File.Exists(path));
        IAsyncDisposable server = await Start(kind, path);
        await ConnectAsync(kind, path);
        await server.DisposeAsync();
        Assert.False(File.Exists(path));
    }

    [Theory]
    [MemberData(nameof(Servers))]
    public async Task ALiveSocketIsRefusedAndKeepsServing(string kind)
    {
        string path = _dir.File("live.sock");
        IAsyncDisposable first = await Start(kind, path);
        try
        {
            DeviceException e = await Assert.ThrowsAnyAsync<DeviceException>(() => Start(kind, path));
            Assert.Equal(kind switch { "nbd" => "NbdServerSocketInUse", "xenstore" => "XenstoreSocketInUse", _ => "XenLoopbackSocketInUse" }, e.ErrorId);
            Assert.Equal(DeviceErrorCategory.ResourceExists, e.Category);
            Assert.Contains(path, e.Message);
            await ConnectAsync(kind, path);
        }
        finally
        {
            await first.DisposeAsync();
        }
    }

    [Theory]
    [MemberData(nameof(Servers))]
    public async Task StopLeavesAFileThatReplacedTheSocket(string kind)
    {
        string path = _dir.File("replaced.sock");
        IAsyncDisposable server = await Start(kind, path);
        File.Delete(path);
        await File.WriteAllTextAsync(path, "someone else's");
        await server.DisposeAsync();
        Assert.Equal("someone else's", await File.ReadAllTextAsync(path));

        // Another server's socket at the same path, bound after ours was removed, survives our stop too.
        File.Delete(path);
        IAsyncDisposable second = await Start(kind, path);
        File.Delete(path);
        using var third = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        third.Bind(new UnixDomainSocketEndPoint(path));
        await second.DisposeAsync();
        Assert.True(File.Exists(path));
    }

    [Theory]
    [MemberData(nameof(Servers))]
    public async Task AMissingDirectoryIsObjectNotFoundAndSaysWhichDirectory(string kind)
    {
        string missing = _dir.File("no/such/dir");
        DeviceException e = await Assert.ThrowsAnyAsync<DeviceException>(() => Start(kind, Path.Combine(missing, "s.sock")));
        Assert.Equal("SocketDirectoryNotFound", e.ErrorId);
        Assert.Equal(DeviceErrorCategory.ObjectNotFound, e.Category);
        Assert.Contains($"the directory '{missing}' does not exist", e.Message);
        Assert.DoesNotContain("Cannot assign requested address", e.Message);
    }

    [Theory]
    [InlineData("nbd", "xen-loopback")]
    [InlineData("xenstore", "xen-loopback")]
    [InlineData("xen-loopback", "nbd")]
    [InlineData("xen-loopback", "xenstore")]
    public async Task ALiveSocketOfAnotherTypeIsRefusedAndKeepsServing(string kind, string other)
    {
        // The hypervisor's control socket is seqpacket, the servers' stream: a probe of one type meets a live socket
        // of the other with EPROTOTYPE, which once counted as "nobody answers" and had the live socket replaced.
        string path = _dir.File("other.sock");
        IAsyncDisposable first = await Start(other, path);
        try
        {
            DeviceException e = await Assert.ThrowsAnyAsync<DeviceException>(() => Start(kind, path));
            Assert.Equal(DeviceErrorCategory.ResourceExists, e.Category);
            Assert.EndsWith("SocketInUse", e.ErrorId);
            await ConnectAsync(other, path);
        }
        finally
        {
            await first.DisposeAsync();
        }
    }

    [Fact]
    public async Task BothClientsNameAMissingSocketAndARefusedOneAlike()
    {
        string missing = _dir.File("missing.sock");
        DeviceException xs = await Assert.ThrowsAnyAsync<DeviceException>(async () => await XenstoreClient.ConnectAsync(missing));
        DeviceException nbd = await Assert.ThrowsAnyAsync<DeviceException>(() => NbdClient.ConnectAsync($"nbd+unix:///?socket={missing}", new CancellationTokenSource(TimeSpan.FromSeconds(30)).Token));
        foreach (DeviceException e in new[] { xs, nbd })
        {
            Assert.Equal("SocketNotFound", e.ErrorId);
            Assert.Equal(DeviceErrorCategory.ObjectNotFound, e.Category);
            Assert.Contains($"the socket '{missing}' does not exist", e.Message);
            Assert.DoesNotContain("Cannot assign requested address", e.Message);
        }

        string regular = _dir.PatternFile("regular", 16);
        DeviceException notSocket = await Assert.ThrowsAnyAsync<DeviceException>(async () => await XenstoreClient.ConnectAsync(regular));
        Assert.Equal("ConnectionRefused", notSocket.ErrorId);
        Assert.Contains($"'{regular}' is not a socket", notSocket.Message);

        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        int port = ((IPEndPoint)listener.LocalEndPoint!).Port; // bound, not listening: connects are refused
        DeviceException refused = await Assert.ThrowsAnyAsync<DeviceException>(() => NbdClient.ConnectAsync($"nbd://127.0.0.1:{port}/", new CancellationTokenSource(TimeSpan.FromSeconds(30)).Token));
        Assert.Equal("ConnectionRefused", refused.ErrorId);
        Assert.Equal(DeviceErrorCategory.ConnectionError, refused.Category);
        Assert.Contains($"nothing listens on 127.0.0.1:{port}", refused.Message);
    }

    [Fact]
    public async Task TcpListenErrorsNameTheAddress()
    {
        await using var disk = new MemoryBlockDevice(1 << 20);
        using var holder = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        holder.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        holder.Listen(1);
        int port = ((IPEndPoint)holder.LocalEndPoint!).Port;
        await using var busy = new NbdServer(new NbdServerOptions { TcpEndPoint = new IPEndPoint(IPAddress.Loopback, port) }, new NbdExport("", disk));
        DeviceException inUse = await Assert.ThrowsAnyAsync<DeviceException>(() => busy.StartAsync());
        Assert.Equal("AddressInUse", inUse.ErrorId);
        Assert.Equal(DeviceErrorCategory.ResourceExists, inUse.Category);
        Assert.Contains($"127.0.0.1:{port}", inUse.Message);

        // TEST-NET-2 (RFC 5737) is never an address of this machine.
        await using var foreign = new NbdServer(new NbdServerOptions { TcpEndPoint = new IPEndPoint(IPAddress.Parse("198.51.100.7"), 0) }, new NbdExport("", disk));
        DeviceException notLocal = await Assert.ThrowsAnyAsync<DeviceException>(() => foreign.StartAsync());
        Assert.Equal("AddressNotAvailable", notLocal.ErrorId);
        Assert.Equal(DeviceErrorCategory.InvalidArgument, notLocal.Category);
        Assert.Contains("198.51.100.7:0", notLocal.Message);
    }
}
