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

    /// <summary>
    /// Gives back a name that <see cref="Next"/> handed out for a device that was never made (a failed connect), so
    /// the next device takes it. Only the latest name can be given back: one handed out since stays taken.
    /// </summary>
    /// <param name="prefix">The prefix it was taken with.</param>
    /// <param name="name">The name.</param>
    /// <returns>True when the name is free again.</returns>
    public static bool Return(string prefix, string name)
    {
        ArgumentNullException.ThrowIfNull(prefix);
        ArgumentNullException.ThrowIfNull(name);
        if (!s_counters.TryGetValue(prefix, out StrongBox<int>? counter) || !name.StartsWith(prefix, StringComparison.Ordinal)
            || !int.TryParse(name.AsSpan(prefix.Length), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int number))
        {
            return false;
        }

        return Interlocked.CompareExchange(ref counter.Value, number - 1, number) == number;
    }

    private sealed class StrongBox<T>(T value)
    {
        public T Value = value;
    }
}
