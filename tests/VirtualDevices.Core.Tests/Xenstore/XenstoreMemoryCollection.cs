namespace VirtualDevices.Tests.Xenstore;

/// <summary>
/// Tests that measure the process's managed heap (GC.GetTotalMemory) run in this collection: after the parallel ones,
/// alone, so that no other test's allocations blur the measure.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class XenstoreMemoryCollection
{
    public const string Name = "Xenstore memory";
}
