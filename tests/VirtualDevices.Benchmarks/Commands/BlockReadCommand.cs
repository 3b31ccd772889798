using System.Diagnostics;
using VirtualDevices.Block;

namespace VirtualDevices.Benchmarks.Commands;

/// <summary><c>block-read PATH [--chunk BYTES] [--direct]</c>: reads a file-backed device sequentially, prints MB/s.</summary>
internal static class BlockReadCommand
{
    public static async Task<int> RunAsync(string[] args)
    {
        var options = Arguments.Parse(args, options: ["--chunk"], flags: ["--direct"]);
        string path = options.Positional(0, "PATH");
        int chunk = options.Int("--chunk", 1 << 20);
        await using FileBlockDevice device = FileBlockDevice.Open(path, new FileBlockDeviceOptions { ReadOnly = true, Direct = options.Flag("--direct") });
        int sectorSize = device.Info.SectorSize;
        int chunkSectors = Math.Max(1, chunk / sectorSize);
        byte[] buffer = GC.AllocateUninitializedArray<byte>(chunkSectors * sectorSize, pinned: true);
        long total = device.Info.SectorCount;
        var clock = Stopwatch.StartNew();
        for (long sector = 0; sector < total; sector += chunkSectors)
        {
            int n = (int)Math.Min(chunkSectors, total - sector);
            await device.ReadAsync(sector, buffer.AsMemory(0, n * sectorSize));
        }

        clock.Stop();
        double megabytes = device.Info.SizeBytes / 1e6;
        Console.WriteLine($"read {device.Info.SizeBytes} bytes in {clock.Elapsed.TotalSeconds:F3} s, {chunk} bytes per request");
        Console.WriteLine($"{megabytes / clock.Elapsed.TotalSeconds:F1} MB/s");
        return 0;
    }
}
