using System.Security.Cryptography;
using VirtualDevices.Tests.Infrastructure;

namespace VirtualDevices.Tests.Nbd;

/// <summary>Starts the real NBD peers the tests talk to, each bound to a socket in the test's own directory.</summary>
internal static class NbdPeers
{
    /// <summary>Every wait in the NBD tests is bounded by this unless a test says otherwise.</summary>
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    /// <summary>
    /// nbdkit in the foreground on a unix socket, killed when the test disposes it. (Not --exit-with-parent: its
    /// parent-death signal fires when the .NET thread that forked it exits, long before the test ends.)
    /// </summary>
    public static async Task<ExternalProcess> NbdkitAsync(string socket, params string[] arguments)
    {
        ExternalProcess process = ExternalProcess.Start("nbdkit", ["-f", "-U", socket, .. arguments]);
        await process.WaitForFileAsync(socket);
        await WaitForUnixListenerAsync(socket);
        return process;
    }

    /// <summary>The socket file appears at bind, a moment before listen: wait until a connection is accepted.</summary>
    public static async Task WaitForUnixListenerAsync(string socket)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (true)
        {
            using var probe = new System.Net.Sockets.Socket(System.Net.Sockets.AddressFamily.Unix, System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Unspecified);
            try
            {
                await probe.ConnectAsync(new System.Net.Sockets.UnixDomainSocketEndPoint(socket));
                return;
            }
            catch (System.Net.Sockets.SocketException) when (clock.Elapsed < TimeSpan.FromSeconds(20))
            {
                await Task.Delay(10);
            }
        }
    }

    /// <summary>nbdkit on a TCP port of 127.0.0.1.</summary>
    public static async Task<(ExternalProcess Process, int Port)> NbdkitTcpAsync(params string[] arguments)
    {
        int port = ExternalProcess.FreeTcpPort();
        ExternalProcess process = ExternalProcess.Start("nbdkit", ["-f", "-i", "127.0.0.1", "-p", port.ToString(System.Globalization.CultureInfo.InvariantCulture), .. arguments]);
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

    /// <summary>A daemon known by its pid file, killed on dispose.</summary>
    public sealed class PidFileProcess(string pidFile) : IDisposable
    {
        public async Task WaitForTcpPortAsync(int port)
        {
            var clock = System.Diagnostics.Stopwatch.StartNew();
            while (true)
            {
                try
                {
                    using var client = new System.Net.Sockets.TcpClient();
                    await client.ConnectAsync(System.Net.IPAddress.Loopback, port);
                    return;
                }
                catch (System.Net.Sockets.SocketException) when (clock.Elapsed < TimeSpan.FromSeconds(20))
                {
                    await Task.Delay(20);
                }
            }
        }

        public void Dispose()
        {
            try
            {
                int pid = int.Parse(File.ReadAllText(pidFile).Trim(), System.Globalization.CultureInfo.InvariantCulture);
                using var process = System.Diagnostics.Process.GetProcessById(pid);
                process.Kill(entireProcessTree: true);
            }
            catch (Exception e) when (e is IOException or ArgumentException or InvalidOperationException or FormatException)
            {
            }
        }
    }
}
