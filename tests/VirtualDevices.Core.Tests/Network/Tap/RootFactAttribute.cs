namespace VirtualDevices.Tests.Network.Tap;

/// <summary>
/// A test that makes interfaces and network namespaces, which needs root (CAP_NET_ADMIN and CAP_SYS_ADMIN): skipped,
/// with that reason, when the tests do not run as root or the machine has no <c>/dev/net/tun</c> or <c>ip</c>.
/// </summary>
public sealed class RootFactAttribute : FactAttribute
{
    public RootFactAttribute()
    {
        if (!OperatingSystem.IsLinux())
        {
            Skip = "TAP interfaces and network namespaces are Linux's";
        }
        else if (!IsRoot())
        {
            Skip = "needs root: it makes TAP interfaces and network namespaces (these tests run as root on the project's machines)";
        }
        else if (!File.Exists("/dev/net/tun"))
        {
            Skip = "/dev/net/tun is missing (no TUN/TAP driver)";
        }
        else if (!File.Exists("/usr/sbin/ip") && !File.Exists("/sbin/ip") && !File.Exists("/usr/bin/ip"))
        {
            Skip = "iproute2's ip is missing (it makes the test namespaces)";
        }
    }

    /// <summary>A program the test also needs (on PATH): the test is skipped, saying so, without it.</summary>
    public string? Needs
    {
        get => _needs;
        set
        {
            _needs = value;
            if (Skip is null && value is not null && !(Environment.GetEnvironmentVariable("PATH") ?? string.Empty).Split(':').Any(d => File.Exists(Path.Combine(d, value))))
            {
                Skip = $"needs {value}, which is not installed";
            }
        }
    }

    private string? _needs;

    private static bool IsRoot() =>
        File.ReadLines("/proc/self/status").FirstOrDefault(l => l.StartsWith("Uid:", StringComparison.Ordinal)) is { } line
        && line.Split('\t', StringSplitOptions.RemoveEmptyEntries)[2] == "0";
}
