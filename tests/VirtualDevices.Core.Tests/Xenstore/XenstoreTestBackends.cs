using VirtualDevices.IO.Polling;
using VirtualDevices.Xen.Xenstore.Server;

namespace VirtualDevices.Tests.Xenstore;

/// <summary>
/// The server's two poll loop backends as theory data: epoll (Linux's) and poll(2) (macOS's, forced here), so the
/// server's own tests run on both. By name: the backend enum is internal, a public test method cannot take it.
/// </summary>
public static class XenstoreTestBackends
{
    /// <summary>Both backends' names.</summary>
    public static TheoryData<string> All => new() { nameof(PollBackend.Epoll), nameof(PollBackend.Poll) };

    /// <summary>Default options on the named backend.</summary>
    internal static XenstoreServerOptions Options(string backend) => new() { PollBackend = Enum.Parse<PollBackend>(backend) };

    /// <summary>Starts a test server on the named backend.</summary>
    internal static XenstoreTestServer Start(string backend) => XenstoreTestServer.Start(Options(backend));
}
