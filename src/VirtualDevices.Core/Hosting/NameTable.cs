using System.Globalization;

namespace VirtualDevices.Hosting;

/// <summary>
/// The one naming rule of a <see cref="DeviceHost"/>, for devices and services alike (each in its own table): a name
/// given by the caller is taken as it is, unless in use; a default name is the prefix and the next number of that
/// prefix (<c>memory0</c>, <c>nbd1</c>, <c>nbd-server0</c>), skipping numbers whose name is in use. Numbers are
/// not reused once their object existed (so <c>nbd0</c> in a log names one device only), but a name reserved for an
/// object that was never made (a failed connect) is given back when it is still the latest of its prefix, so
/// failures use up no numbers. Names are compared without regard to case, as PowerShell compares them. Not
/// thread-safe: the host calls it under its lock.
/// </summary>
internal sealed class NameTable(string errorId, string kind, string verb)
{
    private readonly Dictionary<string, int> _counters = new(StringComparer.OrdinalIgnoreCase);
    private readonly HashSet<string> _taken = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>Reserves <paramref name="name"/>, or the next default name of <paramref name="prefix"/> when it is null or empty.</summary>
    /// <exception cref="DeviceException">The name is in use (<c>DeviceNameInUse</c> or <c>ServiceNameInUse</c>, ResourceExists).</exception>
    public string Reserve(string? name, string prefix)
    {
        if (!string.IsNullOrEmpty(name))
        {
            if (!_taken.Add(name))
            {
                throw InUse(name);
            }

            return name;
        }

        int next = _counters.GetValueOrDefault(prefix);
        string candidate;
        do
        {
            candidate = prefix + next.ToString(CultureInfo.InvariantCulture);
            next++;
        }
        while (_taken.Contains(candidate));
        _counters[prefix] = next;
        _taken.Add(candidate);
        return candidate;
    }

    /// <summary>Frees a name whose object was made and has gone; its number stays used.</summary>
    public void Release(string name) => _taken.Remove(name);

    /// <summary>Frees a name reserved for an object that was never made; a default name's number is given back when it is the latest.</summary>
    public void Unreserve(string name, string prefix)
    {
        _taken.Remove(name);
        if (name.StartsWith(prefix, StringComparison.OrdinalIgnoreCase)
            && int.TryParse(name.AsSpan(prefix.Length), NumberStyles.None, CultureInfo.InvariantCulture, out int number)
            && _counters.TryGetValue(prefix, out int counter) && counter == number + 1)
        {
            _counters[prefix] = number;
        }
    }

    /// <summary>The error for a name in use.</summary>
    public DeviceException InUse(string name) =>
        new(errorId, DeviceErrorCategory.ResourceExists, $"A {kind} named '{name}' is already {verb} in this session.", name);
}
