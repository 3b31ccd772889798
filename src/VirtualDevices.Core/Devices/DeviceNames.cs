using System.Collections.Concurrent;

namespace VirtualDevices.Devices;

/// <summary>Hands out default device names (<c>file0</c>, <c>file1</c>, <c>nbd0</c>...), one sequence per prefix.</summary>
public static class DeviceNames
{
    private static readonly ConcurrentDictionary<string, StrongBox<int>> s_counters = new(StringComparer.Ordinal);

    /// <summary>The next unused name for a prefix within this process.</summary>
    /// <param name="prefix">The driver's prefix, such as <c>file</c>.</param>
    public static string Next(string prefix)
    {
        StrongBox<int> counter = s_counters.GetOrAdd(prefix, static _ => new StrongBox<int>(-1));
        return prefix + Interlocked.Increment(ref counter.Value).ToString(System.Globalization.CultureInfo.InvariantCulture);
    }

    private sealed class StrongBox<T>(T value)
    {
        public T Value = value;
    }
}
