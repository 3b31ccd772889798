namespace VirtualDevices.Xen.Rings;

/// <summary>
/// Fills the entries a producer writes into a ring, one per call, in place in the shared page (no staging copy):
/// for <see cref="FrontRing{TRequest, TResponse}.ProduceRequests{TSource}(int, ref TSource)"/> and
/// <see cref="BackRing{TRequest, TResponse}.ProduceResponses{TSource}(int, ref TSource)"/>.
/// </summary>
/// <remarks>
/// Implemented by a struct, so that the ring's loop is compiled for it and <see cref="Fill"/> inlines (an interface
/// call or a delegate per entry would cost more than the entry).
/// </remarks>
/// <typeparam name="T">The entry type, laid out as its C struct.</typeparam>
internal interface IRingEntrySource<T>
    where T : unmanaged
{
    /// <summary>Writes the next entry into <paramref name="entry"/>, its place in the shared page.</summary>
    /// <param name="entry">
    /// The entry, in shared memory: write its fields and never read them back (the other end can write there too;
    /// nothing it writes is looked at, and what this end wrote is published by the push). It holds an old entry, so
    /// every field must be written (start from <c>entry = default</c> when not all are set).
    /// </param>
    /// <remarks>
    /// In place rather than returned: a struct returned by value was built on the stack with one store per field and
    /// copied with one wide load, which the store buffer cannot forward (a stall per entry, the hottest instruction in
    /// perf of ring-echo).
    /// </remarks>
    void Fill(ref T entry);
}
