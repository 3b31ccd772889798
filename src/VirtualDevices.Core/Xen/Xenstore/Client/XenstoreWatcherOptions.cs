namespace VirtualDevices.Xen.Xenstore.Client;

/// <summary>How a <see cref="XenstoreWatcher"/> describes changes and how long it watches.</summary>
public sealed class XenstoreWatcherOptions
{
    /// <summary>Read each changed node after its event, so that the change carries whether it exists and its value.</summary>
    public bool IncludeValue { get; init; }

    /// <summary>
    /// How long to watch, from the start (registering the watches included); null for no limit. When it passes a
    /// stream of changes ends quietly, and a wait for a condition fails with a timeout error.
    /// </summary>
    public TimeSpan? Timeout { get; init; }
}
