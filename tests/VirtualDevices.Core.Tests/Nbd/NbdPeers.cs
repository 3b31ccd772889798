using System.Security.Cryptography;
using VirtualDevices.Tests.Infrastructure;

namespace VirtualDevices.Tests.Nbd;

/// <summary>Starts the real NBD peers the tests talk to, each bound to a socket in the test's own directory.</summary>
internal static class NbdPeers
{
    /// <summary>Every wait in the NBD tests is bounded by this unless a test says otherwise.</summary>
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    /// <summary>nbdkit in the foreground on a unix socket; dies with the test process.</summary>
    public static async Task<ExternalProcess> NbdkitAsync(string socket, params string[] arguments)
    {
        ExternalProcess process = ExternalProcess.Start("nbdkit", ["-f", "--exit-with-parent", "-U", socket, .. arguments]);
        await process.WaitForFileAsync(socket);
        return process;
    }

    /// <summary>nbdkit on a TCP port of 127.0.0.1.</summary>
    public static async Task<(ExternalProcess Process, int Port)> NbdkitTcpAsync(params string[] arguments)
    {
        int port = ExternalProcess.FreeTcpPort();
        ExternalProcess process = ExternalProcess.Start("nbdkit", ["-f", "--exit-with-parent", "-i", "127.0.0.1", "-p", port.ToString(System.Globalization.CultureInfo.InvariantCulture), .. arguments]);
        await process.WaitForTcpPortAsync(port);
        return (process, port);
    }

    /// <summary>qemu-nbd serving an image on a unix socket.</summary>
    public static async Task<ExternalProcess> QemuNbdAsync(string socket, params string[] arguments)
    {
        ExternalProcess process = ExternalProcess.Start("qemu-nbd", ["--socket", socket, .. arguments]);
        await process.WaitForFileAsync(socket);
        return process;
    }

    /// <summary>nbdsh runs "python3 -m nbd": the Debian python3 that has the nbd module must come first on PATH.</summary>
    public static readonly Dictionary<string, string> SystemPython = new() { ["PATH"] = "/usr/bin:/bin:/usr/sbin:/sbin" };

    public static string Sha256(ReadOnlySpan<byte> data) => Convert.ToHexString(SHA256.HashData(data));

    public static CancellationToken Deadline(TimeSpan? timeout = null) => new CancellationTokenSource(timeout ?? Timeout).Token;
}
