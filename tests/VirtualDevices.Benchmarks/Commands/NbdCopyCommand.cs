using System.Diagnostics;
using VirtualDevices.Block;
using VirtualDevices.Nbd.Client;

namespace VirtualDevices.Benchmarks.Commands;

/// <summary>
/// <c>nbd-copy SOURCE DESTINATION</c>: one of the two is an NBD URI, the other a file. Copies the whole export to the
/// file, or the file onto the export, the way <c>Read-BlockDevice -Uri U -OutFile F</c> and
/// <c>Write-BlockDevice -Uri U -InFile F</c> do (one connection, the streaming operations' own window), and prints
/// MB/s. Compared with <c>nbdcopy SOURCE DESTINATION</c>.
/// </summary>
internal static class NbdCopyCommand
{
    public static async Task<int> RunAsync(string[] args)
    {
        var options = Arguments.Parse(args, options: []);
        string source = options.Positional(0, "SOURCE");
        string destination = options.Positional(1, "DESTINATION");
        bool fromDevice = source.StartsWith("nbd", StringComparison.Ordinal);
        await using NbdBlockDevice device = await NbdClient.ConnectAsync(fromDevice ? source : destination);
        var clock = Stopwatch.StartNew();
        long bytes;
        if (fromDevice)
        {
            await using var file = new FileStream(destination, FileMode.Create, FileAccess.Write, FileShare.None, bufferSize: 0);
            bytes = await device.CopyToAsync(0, device.Info.SectorCount, file);
        }
        else
        {
            await using var file = new FileStream(source, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 0);
            bytes = await device.WriteFromAsync(0, file);
            if (device.Info.Supports(BlockFeatures.Flush))
            {
                await device.FlushAsync();
            }
        }

        clock.Stop();
        Console.WriteLine($"copied {bytes} bytes in {clock.Elapsed.TotalSeconds:F3} s");
        Console.WriteLine($"{bytes / 1e6 / clock.Elapsed.TotalSeconds:F1} MB/s");
        return 0;
    }
}
