using System.Net;
using System.Security.Cryptography.X509Certificates;

namespace VirtualDevices.Nbd.Server;

/// <summary>Where an <see cref="NbdServer"/> listens and how it treats clients.</summary>
public sealed record NbdServerOptions
{
    /// <summary>A TCP endpoint to listen on (port 0 picks a free port; see <see cref="NbdServer.TcpEndPoint"/>).</summary>
    public IPEndPoint? TcpEndPoint { get; init; }

    /// <summary>A unix domain socket to listen on. A stale socket file (nobody listening) is replaced.</summary>
    public string? UnixSocketPath { get; init; }

    /// <summary>
    /// TLS policy: <see cref="NbdTlsMode.Off"/> refuses STARTTLS, <see cref="NbdTlsMode.On"/> lets clients choose,
    /// <see cref="NbdTlsMode.Require"/> refuses every option before STARTTLS. On and Require need <see cref="TlsCertificate"/>.
    /// </summary>
    public NbdTlsMode Tls { get; init; } = NbdTlsMode.Off;

    /// <summary>The server's certificate, with its private key.</summary>
    public X509Certificate2? TlsCertificate { get; init; }

    /// <summary>When set, clients must present a certificate signed by one of these authorities.</summary>
    public X509Certificate2Collection? TlsClientAuthorities { get; init; }

    /// <summary>Clients served at once; more are accepted and closed at once.</summary>
    public int MaximumConnections { get; init; } = 256;

    /// <summary>Requests processed at once per connection; the server stops reading from a client beyond this.</summary>
    public int MaximumRequestsInFlight { get; init; } = 64;

    /// <summary>
    /// The largest read or write request (the maximum block size advertised). A larger write payload is a hard
    /// disconnect, as the spec allows, rather than a buffer a client can make the server allocate.
    /// </summary>
    public int MaximumRequestSize { get; init; } = 32 * 1024 * 1024;

    /// <summary>How long a client may take to reach transmission; a stalled handshake is dropped.</summary>
    public TimeSpan HandshakeTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>On stop, how long requests in flight may take to finish before connections are closed anyway.</summary>
    public TimeSpan ShutdownGracePeriod { get; init; } = TimeSpan.FromSeconds(5);

    internal void Validate()
    {
        if (TcpEndPoint is null && string.IsNullOrEmpty(UnixSocketPath))
        {
            throw new ArgumentException("A TCP endpoint or a unix socket path is needed.");
        }

        if (Tls != NbdTlsMode.Off && TlsCertificate is null)
        {
            throw new ArgumentException("TLS needs a server certificate.", nameof(TlsCertificate));
        }

        if (TlsCertificate is { HasPrivateKey: false })
        {
            throw new ArgumentException("The server certificate has no private key.", nameof(TlsCertificate));
        }

        ArgumentOutOfRangeException.ThrowIfLessThan(MaximumConnections, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(MaximumRequestsInFlight, 1);
        if (MaximumRequestSize < 4096 || MaximumRequestSize > 1 << 30)
        {
            throw new ArgumentOutOfRangeException(nameof(MaximumRequestSize), MaximumRequestSize, "The maximum request size must be 4 KiB..1 GiB.");
        }
    }
}
