using VirtualDevices.Devices;
using VirtualDevices.Hosting;

namespace VirtualDevices.Tests.Hosting;

/// <summary>A service that writes what happens to it into a shared log, and fails to stop when told to.</summary>
internal sealed class RecordingService(string label, List<string> log, params IDevice[] served) : IHostedService
{
    public bool FailOnDispose { get; init; }

    public IReadOnlyCollection<IDevice> ServedDevices => served;

    public Task StopAsync(CancellationToken cancellationToken = default)
    {
        lock (log)
        {
            log.Add("stop " + label);
        }

        return Task.CompletedTask;
    }

    public ValueTask DisposeAsync()
    {
        lock (log)
        {
            log.Add("dispose " + label);
        }

        return FailOnDispose ? ValueTask.FromException(new IOException($"{label} failed to stop")) : ValueTask.CompletedTask;
    }
}
