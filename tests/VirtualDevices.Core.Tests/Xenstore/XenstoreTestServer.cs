using VirtualDevices.Xen.Xenstore;
using VirtualDevices.Xen.Xenstore.Client;
using VirtualDevices.Xen.Xenstore.Server;

namespace VirtualDevices.Tests.Xenstore;

/// <summary>An embedded server on a socket in a temporary directory, removed with it when the test ends.</summary>
internal sealed class XenstoreTestServer : IAsyncDisposable
{
    private readonly TempDirectory _directory = new();

    private XenstoreTestServer(XenstoreServerOptions? options)
    {
        SocketPath = _directory.File("xenstored.sock");
        Server = XenstoreServer.Listen(SocketPath, options);
    }

    public string SocketPath { get; }

    public XenstoreServer Server { get; private set; }

    public string Directory => _directory.Path;

    /// <summary>XENSTORED_PATH for the xenstore tools, test-xenstore and libxenstore.</summary>
    public Dictionary<string, string> Environment => new() { ["XENSTORED_PATH"] = SocketPath };

    public static XenstoreTestServer Start(XenstoreServerOptions? options = null) => new(options);

    public ValueTask<XenstoreClient> ConnectAsync(bool reconnect = true) =>
        XenstoreClient.ConnectAsync(new XenstoreClientOptions { SocketPath = SocketPath, Reconnect = reconnect, ReconnectTimeout = TimeSpan.FromSeconds(10) });

    public XenstoreClient ConnectAsDomain(int domainId) => XenstoreClient.ConnectInProcess(Server, domainId);

    /// <summary>Stops the server and starts a fresh one (empty tree) on the same socket: a xenstored restart.</summary>
    public async Task RestartAsync()
    {
        await Server.DisposeAsync();
        Server = XenstoreServer.Listen(SocketPath);
    }

    public async ValueTask DisposeAsync()
    {
        await Server.DisposeAsync();
        _directory.Dispose();
    }
}
