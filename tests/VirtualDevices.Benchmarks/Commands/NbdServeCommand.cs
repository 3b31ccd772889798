using System.Runtime.InteropServices;
using VirtualDevices.Block;
using VirtualDevices.Nbd.Server;

namespace VirtualDevices.Benchmarks.Commands;

/// <summary><c>nbd-serve PATH SOCKET [--readonly]</c>: serves a file as the default export on a unix socket until killed.</summary>
internal static class NbdServeCommand
{
    public static async Task<int> RunAsync(string[] args)
    {
        var options = Arguments.Parse(args, options: [], flags: ["--readonly"]);
        string path = options.Positional(0, "PATH");
        string socket = options.Positional(1, "SOCKET");
        await using FileBlockDevice device = FileBlockDevice.Open(path, new FileBlockDeviceOptions { ReadOnly = options.Flag("--readonly") });
        await using var server = new NbdServer(new NbdServerOptions { UnixSocketPath = socket }, new NbdExport("", device));
        var stop = new TaskCompletionSource();
        using PosixSignalRegistration term = PosixSignalRegistration.Create(PosixSignal.SIGTERM, context => { context.Cancel = true; stop.TrySetResult(); });
        using PosixSignalRegistration interrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, context => { context.Cancel = true; stop.TrySetResult(); });
        await server.StartAsync();
        Console.WriteLine($"serving {path} ({device.Info.SizeBytes} bytes) on {socket}");
        await stop.Task;
        await server.StopAsync();
        NbdServerStatistics statistics = server.GetStatistics();
        Console.WriteLine($"{statistics.TotalConnections} connections, {statistics.Requests} requests, {statistics.BytesRead} bytes read, {statistics.BytesWritten} bytes written");
        return 0;
    }
}
