using VirtualDevices.Tests.Infrastructure;
using VirtualDevices.Xen.Xenstore;
using VirtualDevices.Xen.Xenstore.Client;

namespace VirtualDevices.Tests.Xenstore;

/// <summary>
/// The real xenstore tools (xenstore-utils) and Xen's test-xenstore against our server, via XENSTORED_PATH; the
/// xenstore-utils tests on both poll loop backends (<see cref="XenstoreTestBackends"/>).
/// </summary>
public sealed class XenstoreRealToolsTests
{
    /// <summary>Xen's test client, from the installed xen-utils (4.17 on Debian 12; the version is not pinned).</summary>
    private static readonly string TestXenstore = Directory.Exists("/usr/lib")
        ? Directory.GetDirectories("/usr/lib", "xen-4.*").Order(StringComparer.Ordinal)
            .Select(d => Path.Combine(d, "bin", "test-xenstore")).LastOrDefault(File.Exists) ?? "/usr/lib/xen-4.17/bin/test-xenstore"
        : "/usr/lib/xen-4.17/bin/test-xenstore";

    private static async Task<string> RunToolAsync(XenstoreTestServer server, string tool, params string[] arguments)
    {
        ProcessResult result = await ExternalProcess.RunAsync(tool, arguments, TimeSpan.FromSeconds(20), server.Environment);
        result.EnsureSuccess($"{tool} {string.Join(' ', arguments)}");
        return result.StandardOutput;
    }

    [Theory(Timeout = XenstoreTestTimeouts.Test)]
    [MemberData(nameof(XenstoreTestBackends.All), MemberType = typeof(XenstoreTestBackends))]
    public async Task Xenstore_utils_read_write_list_ls_chmod_exists_rm(string backend)
    {
        await using var server = XenstoreTestBackends.Start(backend);
        await using XenstoreClient xs = await server.ConnectAsync();

        await RunToolAsync(server, "xenstore-write", "/tool/a", "alpha", "/tool/b", "beta");
        Assert.Equal("alpha", await xs.ReadStringAsync("/tool/a"));
        await xs.WriteAsync("/tool/c", "from our client");
        Assert.Equal("from our client\n", await RunToolAsync(server, "xenstore-read", "/tool/c"));
        Assert.Equal("a\nb\nc\n", await RunToolAsync(server, "xenstore-list", "/tool"));

        string ls = await RunToolAsync(server, "xenstore-ls", "/tool");
        Assert.Contains("a = \"alpha\"", ls);
        Assert.Contains("c = \"from our client\"", ls);

        await RunToolAsync(server, "xenstore-chmod", "/tool/a", "n3", "r5");
        Assert.Equal("n3 r5", (await xs.GetPermissionsAsync("/tool/a")).ToString());
        Assert.Contains("(n3,r5)", await RunToolAsync(server, "xenstore-ls", "-p", "/tool"));

        await RunToolAsync(server, "xenstore-exists", "/tool/b");
        ProcessResult missing = await ExternalProcess.RunAsync("xenstore-exists", ["/tool/none"], TimeSpan.FromSeconds(20), server.Environment);
        Assert.NotEqual(0, missing.ExitCode);

        await RunToolAsync(server, "xenstore-rm", "/tool/b");
        Assert.False(await xs.ExistsAsync("/tool/b"));

        // Relative paths of a socket client resolve under /local/domain/0.
        await RunToolAsync(server, "xenstore-write", "rel", "ative");
        Assert.Equal("ative", await xs.ReadStringAsync("/local/domain/0/rel"));
    }

    [Theory(Timeout = XenstoreTestTimeouts.Test)]
    [MemberData(nameof(XenstoreTestBackends.All), MemberType = typeof(XenstoreTestBackends))]
    public async Task Xenstore_watch_sees_changes_made_by_our_client(string backend)
    {
        await using var server = XenstoreTestBackends.Start(backend);
        await using XenstoreClient xs = await server.ConnectAsync();
        await using ExternalProcess watcher = ExternalProcess.Start("xenstore-watch", ["-n", "3", "/watched"], server.Environment);

        // Wait until the tool's watch is registered: its first event prints the watched path.
        using (CancellationTokenSource wait = new(TimeSpan.FromSeconds(15)))
        {
            while (!watcher.StandardOutput.Contains("/watched", StringComparison.Ordinal))
            {
                await Task.Delay(20, wait.Token);
            }
        }

        await xs.WriteAsync("/watched/one", "1");
        await xs.RemoveAsync("/watched");
        Assert.Equal(0, await watcher.WaitForExitAsync(TimeSpan.FromSeconds(15)));
        Assert.Equal(["/watched", "/watched/one", "/watched"], watcher.StandardOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries));
    }

    private static readonly string[] TestXenstoreNames =
    [
        "read 1", "read 2000", "write 1", "write 2000", "dir", "rm node", "rm dir",
        "ta empty", "ta empty x", "ta rmw", "ta rmw x", "ta err",
    ];

    public static TheoryData<string> TestXenstoreTests => new(TestXenstoreNames);

    [Theory(Timeout = XenstoreTestTimeouts.Test)]
    [MemberData(nameof(TestXenstoreTests))]
    public async Task Xen_test_xenstore_passes(string test)
    {
        await using var server = XenstoreTestServer.Start();
        ProcessResult result = await ExternalProcess.RunAsync(TestXenstore, ["-t", test], TimeSpan.FromSeconds(30), server.Environment);
        result.EnsureSuccess($"test-xenstore -t '{test}'");
        Assert.Matches($"^{System.Text.RegularExpressions.Regex.Escape(test)} *: \\d+ ns", result.StandardOutput);
        Assert.DoesNotContain("failed", result.StandardOutput);
    }

    [Fact(Timeout = XenstoreTestTimeouts.Test)]
    public async Task Xen_test_xenstore_lists_the_tests_we_run()
    {
        ProcessResult result = await ExternalProcess.RunAsync(TestXenstore, ["-l"], TimeSpan.FromSeconds(10));
        result.EnsureSuccess("test-xenstore -l");
        string[] listed = result.StandardOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.Split(':')[0].Trim()).ToArray();
        Assert.Equal(TestXenstoreNames, listed);
    }
}
