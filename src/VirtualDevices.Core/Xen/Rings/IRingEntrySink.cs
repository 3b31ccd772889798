namespace VirtualDevices.Xen.Rings;

/// <summary>
/// Takes the entries a consumer copies out of a ring, one per call, each already a private copy (never a reference
/// into the shared page): for <see cref="FrontRing{TRequest, TResponse}.ConsumeResponses{TSink}(int, ref TSink)"/> and
/// <see cref="BackRing{TRequest, TResponse}.ConsumeRequests{TSink}(int, ref TSink)"/>.
/// </summary>
/// <remarks>
/// Implemented by a struct, so that the ring's loop is compiled for it and <see cref="Take"/> inlines. An entry is
/// consumed when it is handed over: if <see cref="Take"/> throws, the entries before it and it are consumed, the rest
/// wait for the next call.
/// </remarks>
/// <typeparam name="T">The entry type, laid out as its C struct.</typeparam>
internal interface IRingEntrySink<T>
    where T : unmanaged
{
    /// <summary>Takes the next entry (a copy).</summary>
    void Take(T entry);
}
