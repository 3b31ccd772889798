using System.Net;
using VirtualDevices.Block;
using VirtualDevices.Hosting;
using VirtualDevices.Nbd;
using VirtualDevices.Nbd.Client;
using VirtualDevices.Nbd.Server;

namespace VirtualDevices.Tests.Nbd;

/// <summary>The export rules, the TLS default and the certificate layout of a hosted NBD server, and what it owns.</summary>
public sealed class NbdServerServiceTests
{
    [Fact]
    public async Task ASingleDeviceIsTheDefaultExportAndAlsoServedUnderItsName()
    {
        await using var disk = new MemoryBlockDevice(1 << 20, name: "disk0");
        IReadOnlyList<NbdExport> exports = new NbdServerSetup().CreateExports([disk]);
        Assert.Equal(["", "disk0"], exports.Select(e => e.Name));
        // Clients are told the device's name: never its location, which for an image is a host path.
        Assert.All(exports, e => Assert.Equal("disk0", e.Description));
        Assert.All(exports, e => Assert.False(e.ReadOnly));

        exports = new NbdServerSetup { ExportName = "boot", Description = "the boot disk", ReadOnly = true }.CreateExports([disk]);
        NbdExport only = Assert.Single(exports);
        Assert.Equal(("boot", "the boot disk", true), (only.Name, only.Description, only.ReadOnly));
    }

    [Fact]
    public async Task SeveralDevicesAreServedUnderTheirNamesAndAnExportNameIsRefusedForThem()
    {
        await using var a = new MemoryBlockDevice(1 << 20, name: "a");
        await using var b = new MemoryBlockDevice(1 << 20, name: "b");
        Assert.Equal(["a", "b"], new NbdServerSetup().CreateExports([a, b]).Select(e => e.Name));
        var setup = new NbdServerSetup { Devices = [a], ImagePaths = ["/x.img"], ExportName = "one" };
        var e = Assert.Throws<ArgumentException>(setup.Validate);
        Assert.Equal("-ExportName names the export of a single device; several devices are exported under their own names.", e.Message);
        Assert.Throws<ArgumentException>(() => setup.CreateExports([a, b]));
        await Assert.ThrowsAsync<ArgumentException>(() => NbdServerService.StartAsync(setup));
    }

    [Fact]
    public void CertificatesMeanTlsRequiredUnlessTheModeIsGiven()
    {
        Assert.Equal(NbdTlsMode.Off, new NbdServerSetup().ResolveTls());
        Assert.Equal(NbdTlsMode.Require, new NbdServerSetup { CertificateDirectory = "/etc/pki/nbd" }.ResolveTls());
        Assert.Equal(NbdTlsMode.On, new NbdServerSetup { CertificateDirectory = "/etc/pki/nbd", Tls = NbdTlsMode.On }.ResolveTls());
        Assert.Equal(NbdTlsMode.Off, new NbdServerSetup { CertificateDirectory = "/etc/pki/nbd", Tls = NbdTlsMode.Off }.ResolveTls());
    }

    [Fact]
    public async Task LoadsCertificatesLaidOutAsNbdkitReadsThem()
    {
        using var dir = new TempDirectory();
        string pki = await NbdTestCertificates.CreateAsync(dir);
        using var certificate = NbdServerCertificates.LoadCertificate(pki);
        Assert.True(certificate.HasPrivateKey);
        Assert.Contains("CN=localhost", certificate.Subject, StringComparison.Ordinal);
        var authorities = NbdServerCertificates.LoadClientAuthorities(pki);
        Assert.Contains("VirtualDevices test CA", Assert.Single(authorities!).Subject, StringComparison.Ordinal);

        // Without ca-cert.pem, clients are not asked for certificates; without the key, loading fails.
        File.Delete(Path.Combine(pki, "ca-cert.pem"));
        Assert.Null(NbdServerCertificates.LoadClientAuthorities(pki));
        File.Delete(Path.Combine(pki, "server-key.pem"));
        Assert.ThrowsAny<IOException>(() => NbdServerCertificates.LoadCertificate(pki));

        // Without a certificate, the options carry none.
        Assert.Null(new NbdServerSetup().CreateOptions().TlsCertificate);
    }

    [Fact]
    public async Task ServesImagesItOpensAndClosesThemWhenStoppedLeavingTheHostsDevicesOpen()
    {
        using var dir = new TempDirectory();
        string image = dir.PatternFile("served.img", 1 << 20, seed: 5);
        await using var host = new DeviceHost();
        MemoryBlockDevice disk = host.AddDevice("memory", null, n => new MemoryBlockDevice(1 << 20, name: n));
        string socket = dir.File("s.sock");
        NbdServerService service = await host.StartServiceAsync("nbd-server", null, (_, ct) => NbdServerService.StartAsync(
            new NbdServerSetup { Devices = [disk], ImagePaths = [image], UnixSocketPath = socket }, ct));
        Assert.Equal("nbd-server0", host.NameOf(service));
        Assert.Equal(["memory0", "served.img"], service.Server.Exports.Select(e => e.Name).Order());
        Assert.Contains(service, host.ServicesServing(disk).Select(s => s.Service));

        CancellationToken ct = NbdPeers.Deadline();
        await using (NbdBlockDevice client = await NbdClient.ConnectAsync(NbdUri.Parse($"nbd+unix:///served.img?socket={socket}"), ct))
        {
            Assert.False(client.Info.ReadOnly);
            var back = new byte[1 << 20];
            await client.ReadAsync(0, back, ct);
            Assert.Equal(TempDirectory.Pattern(1 << 20, seed: 5), back);
        }

        // The image the server opened (read-write, so it holds qemu's write lock) is closed with it; the host's disk is not.
        Assert.Equal("DeviceLocked", Assert.ThrowsAny<DeviceException>(() => FileBlockDevice.Open(image)).ErrorId);
        await host.StopServiceAsync(service, ct);
        await using (FileBlockDevice reopened = FileBlockDevice.Open(image))
        {
            Assert.True(reopened.IsConnected);
        }

        Assert.True(disk.IsConnected);
        Assert.Empty(host.Services);
    }

    [Fact]
    public async Task AServerThatFailsToStartClosesTheImagesItOpened()
    {
        using var dir = new TempDirectory();
        string image = dir.PatternFile("img", 1 << 20);
        await using var host = new DeviceHost();
        var setup = new NbdServerSetup { ImagePaths = [image], UnixSocketPath = dir.File("no/such/dir/s.sock") };
        await Assert.ThrowsAnyAsync<Exception>(() => host.StartServiceAsync("nbd-server", null, (_, ct) => NbdServerService.StartAsync(setup, ct)));
        await using FileBlockDevice reopened = FileBlockDevice.Open(image);
        Assert.True(reopened.IsConnected);
        // The failed start used up no name.
        NbdServerService next = await host.StartServiceAsync("nbd-server", null, (_, ct) => NbdServerService.StartAsync(
            new NbdServerSetup { Devices = [reopened], TcpEndPoint = new IPEndPoint(IPAddress.Loopback, 0) }, ct));
        Assert.Equal("nbd-server0", host.NameOf(next));
    }
}
