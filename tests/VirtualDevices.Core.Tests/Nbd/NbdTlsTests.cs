using System.Security.Cryptography.X509Certificates;
using VirtualDevices.Block;
using VirtualDevices.Nbd;
using VirtualDevices.Nbd.Client;
using VirtualDevices.Nbd.Server;
using VirtualDevices.Tests.Infrastructure;

namespace VirtualDevices.Tests.Nbd;

/// <summary>TLS both ways, with certificates the test makes.</summary>
public sealed class NbdTlsTests
{
    [Fact]
    public async Task ClientTalksTlsToNbdkitThatRequiresItAndVerifiesClients()
    {
        using var dir = new TempDirectory();
        string pki = await NbdTestCertificates.CreateAsync(dir);
        string socket = dir.File("tls.sock");
        await using ExternalProcess nbdkit = await NbdPeers.NbdkitAsync(socket, "--tls=require", $"--tls-certificates={pki}", "--tls-verify-peer", "memory", "16M");
        CancellationToken ct = NbdPeers.Deadline();
        await using (NbdBlockDevice device = await NbdClient.ConnectAsync($"nbds+unix:///?socket={socket}&tls-certificates={pki}", ct))
        {
            Assert.True(device.IsTls);
            byte[] data = TempDirectory.Pattern(1 << 20);
            await device.WriteAsync(0, data, cancellationToken: ct);
            var back = new byte[1 << 20];
            await device.ReadAsync(0, back, ct);
            Assert.Equal(data, back);
        }

        DeviceException plain = await Assert.ThrowsAsync<DeviceException>(() => NbdClient.ConnectAsync($"nbd+unix:///?socket={socket}", ct));
        Assert.Equal("NbdTlsFailed", plain.ErrorId);

        // Without the authority the server's certificate is not trusted.
        string empty = Path.Combine(dir.Path, "empty");
        Directory.CreateDirectory(empty);
        DeviceException untrusted = await Assert.ThrowsAsync<DeviceException>(() => NbdClient.ConnectAsync($"nbds+unix:///?socket={socket}&tls-certificates={empty}", ct));
        Assert.Equal("NbdTlsFailed", untrusted.ErrorId);
    }

    [Fact]
    public async Task ClientTalksTlsToQemuNbd()
    {
        using var dir = new TempDirectory();
        string pki = await NbdTestCertificates.CreateAsync(dir);
        string socket = dir.File("qtls.sock");
        string image = dir.PatternFile("q.img", 4 << 20, seed: 4);
        await using ExternalProcess qemu = await NbdPeers.QemuNbdAsync(socket, "--object", $"tls-creds-x509,id=tls0,dir={pki},endpoint=server,verify-peer=off",
            "--tls-creds", "tls0", "-f", "raw", "-x", "disk", image);
        CancellationToken ct = NbdPeers.Deadline();
        await using NbdBlockDevice device = await NbdClient.ConnectAsync($"nbds+unix:///disk?socket={socket}&tls-certificates={pki}&tls-hostname=localhost", ct);
        Assert.True(device.IsTls);
        var back = new byte[4 << 20];
        await device.ReadAsync(0, back, ct);
        Assert.Equal(NbdPeers.Sha256(File.ReadAllBytes(image)), NbdPeers.Sha256(back));
    }

    [Fact]
    public async Task ServerRequiringTlsServesNbdinfoAndOurClientWithClientCertificates()
    {
        using var dir = new TempDirectory();
        string pki = await NbdTestCertificates.CreateAsync(dir);
        string socket = dir.File("stls.sock");
        using X509Certificate2 certificate = X509Certificate2.CreateFromPemFile(Path.Combine(pki, "server-cert.pem"), Path.Combine(pki, "server-key.pem"));
        var authorities = new X509Certificate2Collection();
        authorities.ImportFromPemFile(Path.Combine(pki, "ca-cert.pem"));
        await using var disk = new MemoryBlockDevice(8 << 20);
        await using var server = new NbdServer(
            new NbdServerOptions { UnixSocketPath = socket, Tls = NbdTlsMode.Require, TlsCertificate = certificate, TlsClientAuthorities = authorities },
            new NbdExport("secure", disk, "TLS only"));
        await server.StartAsync();

        ProcessResult info = await ExternalProcess.RunAsync("nbdinfo", [$"nbds+unix:///secure?socket={socket}&tls-certificates={pki}"], NbdPeers.Timeout);
        info.EnsureSuccess("nbdinfo over TLS");
        Assert.Contains("export-size: 8388608", info.StandardOutput);
        ProcessResult plain = await ExternalProcess.RunAsync("nbdinfo", [$"nbd+unix:///secure?socket={socket}"], NbdPeers.Timeout);
        Assert.NotEqual(0, plain.ExitCode);

        CancellationToken ct = NbdPeers.Deadline();
        await using (NbdBlockDevice device = await NbdClient.ConnectAsync($"nbds+unix:///secure?socket={socket}&tls-certificates={pki}", ct))
        {
            Assert.True(device.IsTls);
            await device.WriteAsync(0, TempDirectory.Pattern(4096), cancellationToken: ct);
            var back = new byte[4096];
            await device.ReadAsync(0, back, ct);
            Assert.Equal(TempDirectory.Pattern(4096), back);
        }

        // No client certificate: the server refuses the TLS handshake.
        string caOnly = Path.Combine(dir.Path, "ca-only");
        Directory.CreateDirectory(caOnly);
        File.Copy(Path.Combine(pki, "ca-cert.pem"), Path.Combine(caOnly, "ca-cert.pem"));
        await Assert.ThrowsAnyAsync<DeviceException>(() => NbdClient.ConnectAsync($"nbds+unix:///secure?socket={socket}&tls-certificates={caOnly}", ct));
    }
}
