namespace VirtualDevices.Tests.Hosting;

/// <summary>A host part that writes its disposal into a shared log.</summary>
internal sealed class RecordingPart(List<string> log) : IAsyncDisposable
{
    public ValueTask DisposeAsync()
    {
        lock (log)
        {
            log.Add("dispose part");
        }

        return ValueTask.CompletedTask;
    }
}
