namespace VirtualDevices.Tests.Nbd;

/// <summary>
/// NBD server tests that measure the process's managed heap (GC.GetTotalMemory) run in this collection: alone, so
/// that no other test's allocations blur the measure.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class NbdServerMemoryCollection
{
    public const string Name = "NBD server memory";
}
