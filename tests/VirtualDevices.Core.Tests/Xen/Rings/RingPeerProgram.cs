using VirtualDevices.Tests.Infrastructure;

namespace VirtualDevices.Tests.Xen.Rings;

/// <summary>
/// <c>tests/c/xen-ring/ring-peer.c</c> (copied next to the tests) compiled once per test class with gcc against
/// <c>/usr/include/xen/io/ring.h</c>, <c>netif.h</c> and <c>blkif.h</c>.
/// </summary>
public sealed class RingPeerProgram : IAsyncLifetime
{
    private readonly TempDirectory _temp = new();

    public string Path { get; private set; } = "";

    public async Task InitializeAsync()
    {
        Assert.True(File.Exists("/usr/include/xen/io/ring.h"), "Xen's public headers (/usr/include/xen/io) are needed");
        string source = await File.ReadAllTextAsync(System.IO.Path.Combine(AppContext.BaseDirectory, "c", "xen-ring", "ring-peer.c"));
        Path = await CCompiler.CompileAsync(_temp.Path, "ring-peer", source, "-O2");
    }

    public Task DisposeAsync()
    {
        _temp.Dispose();
        return Task.CompletedTask;
    }
}
