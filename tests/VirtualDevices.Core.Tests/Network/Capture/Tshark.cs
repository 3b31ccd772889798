using System.Globalization;
using VirtualDevices.Network;
using VirtualDevices.Tests.Infrastructure;

namespace VirtualDevices.Tests.Network.Capture;

/// <summary>tshark, the real reader and writer of capture files the tests compare with.</summary>
internal static class Tshark
{
    /// <summary>One row per frame of <paramref name="path"/>: the values of <paramref name="fields"/>, tab-separated by tshark.</summary>
    public static async Task<string[][]> FieldsAsync(string path, IEnumerable<string> fields, params string[] options)
    {
        var arguments = new List<string> { "-n", "-r", path, "-T", "fields", "-E", "occurrence=f" };
        foreach (string option in options)
        {
            arguments.Add("-o");
            arguments.Add(option);
        }

        foreach (string field in fields)
        {
            arguments.Add("-e");
            arguments.Add(field);
        }

        ProcessResult result = (await ExternalProcess.RunAsync("tshark", arguments, TimeSpan.FromSeconds(60))).EnsureSuccess("tshark");
        return result.StandardOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(line => line.Split('\t')).ToArray();
    }

    /// <summary>Has tshark (through its editcap) rewrite a capture in another format: pcap, nsecpcap, pcapng.</summary>
    public static async Task ConvertAsync(string source, string destination, string format) =>
        (await ExternalProcess.RunAsync("editcap", ["-F", format, source, destination], TimeSpan.FromSeconds(60))).EnsureSuccess("editcap");

    /// <summary>tshark's frame.packet_flags_direction ("0x00000001") as a direction; empty when the block had no flags.</summary>
    public static FrameDirection Direction(string text) =>
        text.Length == 0 ? FrameDirection.Unknown : (FrameDirection)Convert.ToInt32(text, 16);

    /// <summary>tshark's frame.time_epoch ("1700000000.123456789") as nanoseconds.</summary>
    public static long EpochNanoseconds(string text)
    {
        string[] parts = text.Split('.');
        string fraction = (parts.Length > 1 ? parts[1] : string.Empty).PadRight(9, '0')[..9];
        return (long.Parse(parts[0], CultureInfo.InvariantCulture) * 1_000_000_000) + long.Parse(fraction, CultureInfo.InvariantCulture);
    }
}
