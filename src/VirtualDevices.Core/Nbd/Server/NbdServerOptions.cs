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

    /// <summary>
    /// Clients served at once. When this many are connected and another arrives, the one idle longest is closed to
    /// make room if it has been idle for <see cref="IdleEvictionAge"/>; otherwise the newcomer is closed at once.
    /// </summary>
    public int MaximumConnections { get; init; } = 256;

    /// <summary>
    /// How long a connection must have been idle (no request in progress, none received or answered, no handshake
    /// option) before a new client may take its place when <see cref="MaximumConnections"/> are connected; the
    /// evicted client gets a clean close (end of stream) and is counted in
    /// <see cref="NbdServerStatistics.EvictedConnections"/>. A connection with a request in progress is never
    /// evicted. <see cref="Timeout.InfiniteTimeSpan"/> never evicts (new clients are then turned away while the limit
    /// is reached). Neither nbdkit (whose limit filter rejects newcomers) nor qemu-nbd (which stops accepting until a
    /// client leaves) ages out idle clients: a full server there stays full for as long as idle clients stay.
    /// </summary>
    public TimeSpan IdleEvictionAge { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Requests processed at once per connection; the server stops reading from a client beyond this.</summary>
    public int MaximumRequestsInFlight { get; init; } = 64;

    /// <summary>
    /// Bytes of read replies and write payloads one connection may hold at once (default 64 MiB: 256 nbdcopy requests
    /// of 256 KiB, two of the largest requests). Beyond it the server stops reading that client's requests until
    /// replies have been sent, so a client that never reads its replies holds this much and no more; a request larger
    /// than the budget is still served, alone.
    /// </summary>
    public long MaximumBytesInFlightPerConnection { get; init; } = 64L * 1024 * 1024;

    /// <summary>
    /// Bytes of read replies and write payloads all connections together may hold at once (default 1 GiB). When it is
    /// reached, every connection stops reading requests that need buffers until replies have been sent. At least
    /// <see cref="MaximumRequestSize"/>.
    /// </summary>
    public long MaximumBytesInFlight { get; init; } = 1L << 30;

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
        ArgumentOutOfRangeException.ThrowIfLessThan(MaximumBytesInFlightPerConnection, 1);
        if (IdleEvictionAge != Timeout.InfiniteTimeSpan && IdleEvictionAge < TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(IdleEvictionAge), IdleEvictionAge, "The idle eviction age must be positive or infinite.");
        }
        if (MaximumRequestSize < 4096 || MaximumRequestSize > 1 << 30)
        {
            throw new ArgumentOutOfRangeException(nameof(MaximumRequestSize), MaximumRequestSize, "The maximum request size must be 4 KiB..1 GiB.");
        }

        if (MaximumBytesInFlight < MaximumRequestSize)
        {
            throw new ArgumentOutOfRangeException(nameof(MaximumBytesInFlight), MaximumBytesInFlight, "The server's budget must hold at least one request of the maximum request size.");
        }
    }
}
