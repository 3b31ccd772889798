using System.Diagnostics;
using System.Globalization;
using VirtualDevices.Tests.Infrastructure;
using VirtualDevices.Xen.Loopback;
using VirtualDevices.Xen.Xenstore;
using VirtualDevices.Xen.Xenstore.Client;

namespace VirtualDevices.Tests.Xen.Loopback;

/// <summary>
/// A domain in another process (tests/VirtualDevices.XenLoopback.Peer, role <c>xenstore</c>, always killed and
/// reaped) speaks xenstore over its ring to the hypervisor's server in this process: dom0 here sees its nodes and
/// talks to it through a watch, and its death is a RELEASE (<c>@releaseDomain</c>) with its home removed.
/// </summary>
public sealed class LoopbackXenstoreMultiProcessTests : IAsyncLifetime
{
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(60);
    private readonly string _socket = Path.Combine(Path.GetTempPath(), $"vd-loopback-xs-{Guid.NewGuid():N}.sock");
    private LoopbackHypervisor _hypervisor = null!;
    private XenstoreClient _dom0 = null!;

    public Task InitializeAsync()
    {
        _hypervisor = LoopbackHypervisor.StartWithXenstore(_socket);
        _dom0 = XenstoreClient.ConnectInProcess(_hypervisor.Xenstore!);
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        await _dom0.DisposeAsync();
        await _hypervisor.DisposeAsync();
    }

    [Fact(Timeout = 120_000)]
    public async Task ADomainInAnotherProcessSpeaksXenstoreOverItsRingAndItsDeathReleasesIt()
    {
        await using XenstoreWatch introduced = await _dom0.WatchAsync(XenstorePath.IntroduceDomain);
        await using XenstoreWatch released = await _dom0.WatchAsync(XenstorePath.ReleaseDomain);
        await introduced.ReadAsync().AsTask().WaitAsync(Limit); // each watch's initial event
        await released.ReadAsync().AsTask().WaitAsync(Limit);

        await using ExternalProcess peer = ExternalProcess.Start("dotnet", [PeerProgram(), "xenstore", _socket]);
        string[] ready = await ReadLineAsync(peer, "ready");
        int peerId = int.Parse(ready[1], CultureInfo.InvariantCulture);
        Assert.Equal($"loopback-{peerId}", ready[2]); // read over its ring
        Assert.Equal(XenstorePath.IntroduceDomain, (await introduced.ReadAsync().AsTask().WaitAsync(Limit)).Path);
        Assert.Equal($"from {peerId}", await _dom0.ReadStringAsync($"/local/domain/{peerId}/data/hello"));

        await _dom0.WriteAsync($"/local/domain/{peerId}/data/ping", "42");
        Assert.Equal(["pong", "42"], await ReadLineAsync(peer, "pong"));
        Assert.Equal("42", await _dom0.ReadStringAsync($"/local/domain/{peerId}/data/pong"));

        peer.Kill();
        Assert.Equal(XenstorePath.ReleaseDomain, (await released.ReadAsync().AsTask().WaitAsync(Limit)).Path);
        var watch = Stopwatch.StartNew();
        while (await _dom0.ExistsAsync($"/local/domain/{peerId}"))
        {
            Assert.True(watch.Elapsed < Limit, "the dead domain's home was removed");
            await Task.Delay(20);
        }

        Assert.False(await _dom0.IsDomainIntroducedAsync(peerId));

        // Its home goes while it still holds its id (so the id cannot pass to a new domain whose fresh home the
        // departure would then remove); it leaves the list of domains a moment after (CI saw it still listed once).
        while (_hypervisor.Domains.Any(d => d.DomainId == peerId))
        {
            Assert.True(watch.Elapsed < Limit, "the dead domain left the list of domains");
            await Task.Delay(20);
        }
    }

    /// <summary>The peer program, built beside this test project (a build-only reference of it).</summary>
    private static string PeerProgram()
    {
        var output = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar));
        string configuration = output.Parent!.Name;
        string tests = output.Parent.Parent!.Parent!.Parent!.FullName;
        string program = Path.Combine(tests, "VirtualDevices.XenLoopback.Peer", "bin", configuration, output.Name, "VirtualDevices.XenLoopback.Peer.dll");
        Assert.True(File.Exists(program), $"the peer program is built at {program}");
        return program;
    }

    private static async Task<string[]> ReadLineAsync(ExternalProcess peer, string prefix)
    {
        var watch = Stopwatch.StartNew();
        while (watch.Elapsed < Limit)
        {
            string? line = peer.StandardOutput.Split('\n').Select(l => l.Trim()).FirstOrDefault(l => l.StartsWith(prefix + " ", StringComparison.Ordinal));
            if (line is not null)
            {
                return line.Split(' ');
            }

            string? error = peer.StandardOutput.Split('\n').FirstOrDefault(l => l.StartsWith("error", StringComparison.Ordinal));
            Assert.True(error is null, $"the peer failed: {error}");
            Assert.False(peer.HasExited, $"the peer exited before '{prefix}': {peer.StandardOutput} {peer.StandardError}");
            await Task.Delay(20);
        }

        throw new TimeoutException($"the peer did not print '{prefix}' within {Limit}: {peer.StandardOutput} {peer.StandardError}");
    }
}
