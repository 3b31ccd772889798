using System.Globalization;

namespace VirtualDevices.Tests.Xen.Loopback;

/// <summary>The calling thread's own CPU time, so that a "does not spin" check is not disturbed by the tests beside it.</summary>
internal static class ThreadCpu
{
    /// <summary>User + system CPU time of the calling thread in clock ticks (10 ms each), from <c>/proc/thread-self/stat</c>.</summary>
    public static long Ticks()
    {
        string stat = File.ReadAllText("/proc/thread-self/stat");
        string[] fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        return long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture);
    }
}
