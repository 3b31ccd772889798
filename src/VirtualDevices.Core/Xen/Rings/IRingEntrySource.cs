namespace VirtualDevices.Xen.Rings;

/// <summary>
/// Makes the entries a producer writes into a ring, one per call, straight into the shared page (no staging copy):
/// for <see cref="FrontRing{TRequest, TResponse}.ProduceRequests{TSource}(int, ref TSource)"/> and
/// <see cref="BackRing{TRequest, TResponse}.ProduceResponses{TSource}(int, ref TSource)"/>.
/// </summary>
/// <remarks>
/// Implemented by a struct, so that the ring's loop is compiled for it and <see cref="Next"/> inlines (an interface
/// call or a delegate per entry would cost more than the entry).
/// </remarks>
/// <typeparam name="T">The entry type, laid out as its C struct.</typeparam>
internal interface IRingEntrySource<T>
    where T : unmanaged
{
    /// <summary>The next entry to write.</summary>
    T Next();
}
