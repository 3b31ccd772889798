namespace VirtualDevices.Devices;

/// <summary>
/// What the live counters of every family share: 64-bit counters that drivers bump from any thread (atomically, no
/// lock), and the start of the period they count, which <see cref="Reset"/> restarts. A family's counters name its
/// slots and take their snapshot.
/// </summary>
public abstract class DeviceCounters
{
    private readonly long[] _counts;
    private DateTimeOffset _start = DateTimeOffset.UtcNow;

    private protected DeviceCounters(int slots) => _counts = new long[slots];

    /// <summary>When the counted period began (creation or the last reset).</summary>
    private protected DateTimeOffset Start => _start;

    /// <summary>Zeroes every counter and restarts the period.</summary>
    public void Reset()
    {
        _start = DateTimeOffset.UtcNow;
        for (int slot = 0; slot < _counts.Length; slot++)
        {
            Interlocked.Exchange(ref _counts[slot], 0);
        }
    }

    /// <summary>Adds <paramref name="amount"/> to a counter.</summary>
    private protected void Add(int slot, long amount) => Interlocked.Add(ref _counts[slot], amount);

    /// <summary>Adds one to a counter.</summary>
    private protected void Increment(int slot) => Interlocked.Increment(ref _counts[slot]);

    /// <summary>Reads a counter.</summary>
    private protected long Current(int slot) => Interlocked.Read(ref _counts[slot]);
}
