using VirtualDevices.Xen.Xenstore;
using VirtualDevices.Xen.Xenstore.Server;

namespace VirtualDevices.Benchmarks.Commands;

/// <summary><c>xenstore-serve SOCKET</c>: runs the embedded xenstore server on a unix socket until killed (or stdin closes with --stdin).</summary>
internal static class XenstoreServeCommand
{
    public static async Task<int> RunAsync(string[] args)
    {
        var options = Arguments.Parse(args, options: [], flags: ["--stdin"]);
        string socketPath = options.Positional(0, "SOCKET");
        await using XenstoreServer server = XenstoreServer.Listen(socketPath);
        Console.WriteLine($"xenstore server listening on {socketPath}");
        using var stop = new CancellationTokenSource();
        Console.CancelKeyPress += (_, e) => { e.Cancel = true; stop.Cancel(); };
        AppDomain.CurrentDomain.ProcessExit += (_, _) => stop.Cancel();
        if (options.Flag("--stdin"))
        {
            // Lets a script stop the server by closing its input.
            await Task.Run(() => Console.In.ReadToEnd());
            return 0;
        }

        try
        {
            await Task.Delay(Timeout.Infinite, stop.Token);
        }
        catch (OperationCanceledException)
        {
        }

        return 0;
    }
}
