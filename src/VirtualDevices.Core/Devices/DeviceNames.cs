using System.Collections.Concurrent;

namespace VirtualDevices.Devices;

/// <summary>
/// Default names of devices made outside a <see cref="Hosting.DeviceHost"/> (<c>file0</c>, <c>nbd0</c>...), one
/// sequence per prefix, so that a program using the core directly still tells its devices apart in errors. A host
/// names its devices itself, per host, and gives the name to the driver: these counters never decide the name of a
/// hosted device.
/// </summary>
internal static class DeviceNames
{
    private static readonly ConcurrentDictionary<string, StrongBox<int>> s_counters = new(StringComparer.Ordinal);

    /// <summary>The next name of a prefix within this process.</summary>
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
