using System.Diagnostics;
using VirtualDevices.Block;

namespace VirtualDevices.Benchmarks.Commands;

/// <summary>
/// <c>block-copy SOURCE DESTINATION</c>: copies a whole file-backed device into a file the way
/// <c>Read-BlockDevice -Path SOURCE -OutFile DESTINATION</c> does (the device opened read-only, the destination
/// created or truncated as a synchronous <see cref="FileStream"/> without a buffer, then
/// <see cref="BlockDeviceExtensions.CopyToAsync"/>), and prints MB/s. It is the core's figure that the cmdlet is
/// compared with by <c>scripts/cmdlet-compare.sh</c>: the same work without the PowerShell engine.
/// </summary>
internal static class BlockCopyCommand
{
    public static async Task<int> RunAsync(string[] args)
    {
        var options = Arguments.Parse(args, options: []);
        string source = options.Positional(0, "SOURCE");
        string destination = options.Positional(1, "DESTINATION");
        await using FileBlockDevice device = FileBlockDevice.Open(source, new FileBlockDeviceOptions { ReadOnly = true });
        var clock = Stopwatch.StartNew();
        long bytes;

        // The cmdlet's own FileStream arguments: FileShare.Read, a 1-byte buffer (none), synchronous.
        await using (var file = new FileStream(destination, FileMode.Create, FileAccess.Write, FileShare.Read, 1, useAsync: false))
        {
            bytes = await device.CopyToAsync(0, device.Info.SectorCount, file);
        }

        clock.Stop();
        Console.WriteLine($"copied {bytes} bytes in {clock.Elapsed.TotalSeconds:F3} s");
        Console.WriteLine($"{bytes / 1e6 / clock.Elapsed.TotalSeconds:F1} MB/s");
        return 0;
    }
}
