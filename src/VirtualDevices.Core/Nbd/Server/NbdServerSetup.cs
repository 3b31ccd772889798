using System.Net;
using System.Security.Cryptography.X509Certificates;
using VirtualDevices.Block;

namespace VirtualDevices.Nbd.Server;

/// <summary>
/// What an <see cref="NbdServerService"/> serves and how, with the export rules applied by <see cref="CreateExports"/>
/// and the TLS rule by <see cref="ResolveTls"/>.
/// </summary>
public sealed record NbdServerSetup
{
    /// <summary>Devices to serve; the service leaves them open when it stops.</summary>
    public IReadOnlyList<IBlockDevice> Devices { get; init; } = [];

    /// <summary>Disk images or block-special files to serve: the service opens them (named after the file) and closes them when it stops.</summary>
    public IReadOnlyList<string> ImagePaths { get; init; } = [];

    /// <summary>The export name of a single device (default ""); several devices are exported under their names.</summary>
    public string? ExportName { get; init; }

    /// <summary>The description clients see; by default the device's name, never a host path.</summary>
    public string? Description { get; init; }

    /// <summary>Export read-only (and open the images read-only).</summary>
    public bool ReadOnly { get; init; }

    /// <summary>A TCP endpoint to listen on, or null.</summary>
    public IPEndPoint? TcpEndPoint { get; init; }

    /// <summary>A unix socket to listen on, or null.</summary>
    public string? UnixSocketPath { get; init; }

    /// <summary>The TLS policy, or null for the default: Require when a certificate is given, else Off.</summary>
    public NbdTlsMode? Tls { get; init; }

    /// <summary>The server's certificate, with its private key.</summary>
    public X509Certificate2? Certificate { get; init; }

    /// <summary>A directory of PEM files as nbdkit reads it (<see cref="NbdServerCertificates"/>), instead of <see cref="Certificate"/>.</summary>
    public string? CertificateDirectory { get; init; }

    /// <summary>How many devices the setup serves.</summary>
    public int DeviceCount => Devices.Count + ImagePaths.Count;

    /// <summary>
    /// The TLS policy: as given, else Require when a certificate is given (serving certificates in clear would be a
    /// surprise, never a wish), else Off.
    /// </summary>
    public NbdTlsMode ResolveTls() => Tls ?? (Certificate is null && CertificateDirectory is null ? NbdTlsMode.Off : NbdTlsMode.Require);

    /// <summary>Fails when the setup contradicts itself (an export name for several devices).</summary>
    /// <exception cref="ArgumentException">It does.</exception>
    public void Validate()
    {
        if (ExportName is not null && DeviceCount > 1)
        {
            throw new ArgumentException("-ExportName names the export of a single device; several devices are exported under their own names.");
        }
    }

    /// <summary>
    /// The exports of <paramref name="devices"/>: a single device as the default export "" (or <see cref="ExportName"/>)
    /// and, without an export name, also under its own name (so <c>nbd://host/disk0</c> reaches it as well); several
    /// devices each under its own name. The description is <see cref="Description"/> or the device's name: never the
    /// device's location, which names the image's host path (clients have no business knowing the server's files).
    /// </summary>
    /// <param name="devices">The devices, the given ones and the opened images.</param>
    public IReadOnlyList<NbdExport> CreateExports(IReadOnlyList<IBlockDevice> devices)
    {
        ArgumentNullException.ThrowIfNull(devices);
        Validate();
        var exports = new List<NbdExport>();
        foreach (IBlockDevice device in devices)
        {
            exports.Add(new NbdExport(devices.Count == 1 ? ExportName ?? string.Empty : device.Name, device, Description ?? device.Name, ReadOnly));
        }

        if (devices.Count == 1 && ExportName is null)
        {
            exports.Add(new NbdExport(devices[0].Name, devices[0], Description ?? devices[0].Name, ReadOnly));
        }

        return exports;
    }

    /// <summary>The server options: endpoints and TLS (credentials loaded from <see cref="CertificateDirectory"/> when given).</summary>
    public NbdServerOptions CreateOptions() => new()
    {
        TcpEndPoint = TcpEndPoint,
        UnixSocketPath = UnixSocketPath,
        Tls = ResolveTls(),
        TlsCertificate = Certificate ?? (CertificateDirectory is null ? null : NbdServerCertificates.LoadCertificate(CertificateDirectory)),
        TlsClientAuthorities = CertificateDirectory is null ? null : NbdServerCertificates.LoadClientAuthorities(CertificateDirectory),
    };
}
