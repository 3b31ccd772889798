using VirtualDevices.IO;

namespace VirtualDevices.Xen.Rings;

/// <summary>A request in flight on a <see cref="TrackedFrontRing{TRequest, TResponse}"/>: its slot in the request table, completed by the response.</summary>
/// <typeparam name="TResponse">The response type.</typeparam>
internal sealed class RingRequest<TResponse> : PooledRequest<TResponse>
{
    /// <summary>Arms the request for a use (continuations run off the thread that consumes responses).</summary>
    public void Start() => Begin(runContinuationsAsynchronously: true);
}
