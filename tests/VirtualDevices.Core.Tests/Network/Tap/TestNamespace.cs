using System.Globalization;
using VirtualDevices.Tests.Infrastructure;

namespace VirtualDevices.Tests.Network.Tap;

/// <summary>
/// A network namespace made for one test (<c>vdtest-RANDOM</c>) and always deleted with it, with IPv6 off so that
/// the kernel sends only what a test provokes (no router or neighbour solicitations beside it). Addresses used in it
/// are private (10.0.0.0/8) and never leave it.
/// </summary>
public sealed class TestNamespace : IAsyncDisposable
{
    private TestNamespace(string name) => Name = name;

    public string Name { get; }

    public static async Task<TestNamespace> CreateAsync()
    {
        string name = "vdtest-" + Convert.ToHexString(System.Security.Cryptography.RandomNumberGenerator.GetBytes(4)).ToLowerInvariant();
        (await ExternalProcess.RunAsync("ip", ["netns", "add", name], TimeSpan.FromSeconds(30))).EnsureSuccess("ip netns add");
        var scope = new TestNamespace(name);
        try
        {
            await scope.ExecAsync("sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1");
            await scope.ExecAsync("sysctl", "-qw", "net.ipv6.conf.default.disable_ipv6=1");
            await scope.ExecAsync("ip", "link", "set", "lo", "up");
        }
        catch
        {
            await scope.DisposeAsync();
            throw;
        }

        return scope;
    }

    /// <summary>A random private /24 for one test: 10.R.R.0.</summary>
    public static string RandomSubnet()
    {
        byte[] r = System.Security.Cryptography.RandomNumberGenerator.GetBytes(2);
        return string.Create(CultureInfo.InvariantCulture, $"10.{r[0] % 250 + 1}.{r[1]}");
    }

    /// <summary>Runs a program in the namespace (ip netns exec) and returns its output; fails the test on a non-zero exit.</summary>
    public async Task<string> ExecAsync(string program, params string[] arguments) =>
        (await ExternalProcess.RunAsync("ip", ["netns", "exec", Name, program, .. arguments], TimeSpan.FromSeconds(30)))
            .EnsureSuccess($"{program} {string.Join(' ', arguments)} in {Name}").StandardOutput;

    /// <summary>One counter of an interface in the namespace (/sys/class/net/X/statistics/NAME).</summary>
    public async Task<long> KernelCounterAsync(string interfaceName, string counter) =>
        long.Parse((await ExecAsync("cat", $"/sys/class/net/{interfaceName}/statistics/{counter}")).Trim(), CultureInfo.InvariantCulture);

    public async ValueTask DisposeAsync() =>
        await ExternalProcess.RunAsync("ip", ["netns", "del", Name], TimeSpan.FromSeconds(30));
}
