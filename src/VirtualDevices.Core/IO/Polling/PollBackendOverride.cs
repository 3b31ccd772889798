namespace VirtualDevices.IO.Polling;

/// <summary>
/// Forces the backend of the poll loops created in the current async flow (a test of the <c>poll(2)</c> backend on
/// Linux, where epoll would be chosen). An async-local, so tests running in parallel do not see each other's choice.
/// </summary>
internal static class PollBackendOverride
{
    private static readonly AsyncLocal<PollBackend?> Forced = new();

    /// <summary>The forced backend, or null for the platform's own (epoll on Linux, poll elsewhere).</summary>
    internal static PollBackend? Current => Forced.Value;

    /// <summary>The backend a new loop uses when none is given.</summary>
    internal static PollBackend Default => Forced.Value ?? (OperatingSystem.IsLinux() ? PollBackend.Epoll : PollBackend.Poll);

    /// <summary>Forces <paramref name="backend"/> (null: the platform's) until the returned scope is disposed.</summary>
    internal static IDisposable Force(PollBackend? backend)
    {
        PollBackend? previous = Forced.Value;
        Forced.Value = backend;
        return new Scope(previous);
    }

    private sealed class Scope(PollBackend? previous) : IDisposable
    {
        public void Dispose() => Forced.Value = previous;
    }
}
