using System.Security.Cryptography.X509Certificates;

namespace VirtualDevices.Nbd.Client;

/// <summary>
/// Where an NBD export is and how to talk to it. Build one directly, or from a URI with <see cref="NbdUri.Parse"/>
/// (<c>nbd://host:port/export</c>, <c>nbds://</c>, <c>nbd+unix:///export?socket=PATH</c>, <c>nbds+unix://</c>).
/// </summary>
public sealed record NbdClientOptions
{
    /// <summary>The default NBD port (IANA).</summary>
    public const int DefaultPort = 10809;

    /// <summary>The server's host name or address, for TCP. Ignored when <see cref="SocketPath"/> is set.</summary>
    public string? Host { get; init; }

    /// <summary>The server's TCP port.</summary>
    public int Port { get; init; } = DefaultPort;

    /// <summary>A unix domain socket to connect to instead of TCP (a leading NUL selects the abstract namespace).</summary>
    public string? SocketPath { get; init; }

    /// <summary>The export's name; empty for the server's default export.</summary>
    public string ExportName { get; init; } = "";

    /// <summary>Whether to use TLS; <see cref="NbdTlsMode.Require"/> for <c>nbds</c> URIs.</summary>
    public NbdTlsMode Tls { get; init; } = NbdTlsMode.Off;

    /// <summary>
    /// A directory of PEM files in the layout nbdkit, qemu and libnbd use: <c>ca-cert.pem</c> (trusted authorities),
    /// and optionally <c>client-cert.pem</c> with <c>client-key.pem</c> (this client's identity).
    /// </summary>
    public string? TlsCertificatesDirectory { get; init; }

    /// <summary>Authorities trusted to sign the server's certificate, in addition to the directory's; null for the system's.</summary>
    public X509Certificate2Collection? TlsTrustedCertificates { get; init; }

    /// <summary>The certificate (with private key) this client presents, if the server asks for one.</summary>
    public X509Certificate2? TlsClientCertificate { get; init; }

    /// <summary>Whether to check the server's certificate (chain and name). Turning it off allows any server.</summary>
    public bool TlsVerifyPeer { get; init; } = true;

    /// <summary>The name the server's certificate must carry; defaults to <see cref="Host"/>. Unix sockets check no name unless it is set.</summary>
    public string? TlsHostname { get; init; }

    /// <summary>
    /// How many connections to open when the server allows several (NBD_FLAG_CAN_MULTI_CONN); requests are spread
    /// over them. A server without the flag gets one connection whatever this says.
    /// </summary>
    public int Connections { get; init; } = 1;

    /// <summary>Ask for structured replies (needed for block status and sparse reads).</summary>
    public bool RequestStructuredReplies { get; init; } = true;

    /// <summary>Ask for extended headers (64-bit lengths), when the server offers them.</summary>
    public bool RequestExtendedHeaders { get; init; } = true;

    /// <summary>Ask for the <c>base:allocation</c> metadata context, so that allocation status comes from the server.</summary>
    public bool RequestBlockStatus { get; init; } = true;

    /// <summary>
    /// Limit on connecting plus the handshake: of all the connections together when there are several (a multi-conn
    /// connect that has not finished by then fails as a whole, closing the connections it opened).
    /// </summary>
    public TimeSpan ConnectTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// How long a request may wait for its reply. When one overruns, the server is taken for dead: the connection is
    /// closed and every pending request fails with <see cref="DeviceDisconnectedException"/>.
    /// <see cref="Timeout.InfiniteTimeSpan"/> waits for ever.
    /// </summary>
    public TimeSpan RequestTimeout { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>
    /// An upper bound on the bytes of one request, below the server's maximum block size; larger reads and writes are
    /// split. 0 uses the server's limit (or 32 MiB, the spec's safe size, when the server gives none).
    /// </summary>
    public int MaximumRequestSize { get; init; }

    /// <summary>
    /// Runs the continuations of completed requests on the connection's reading thread instead of the thread pool.
    /// That saves a hand-over to another thread (a wake-up) per request, about a sixth of the CPU of a sequential
    /// transfer with many requests in flight, and is what libnbd does with its completion callbacks. It is safe only
    /// for code whose continuations never block: one that waits synchronously for another request of the same device
    /// (<c>.Result</c>, <c>.Wait()</c>, <c>GetAwaiter().GetResult()</c>) stops the thread that would read that reply,
    /// and the device hangs until the request timeout. Off by default; named after Kestrel's
    /// <c>UnsafePreferInlineScheduling</c>, which makes the same trade.
    /// </summary>
    public bool UnsafeInlineCompletions { get; init; }

    /// <summary>The device's name, or null for the next <c>nbdN</c>.</summary>
    public string? DeviceName { get; init; }

    /// <summary>The URI that describes these options (without TLS file paths other than <c>tls-certificates</c>).</summary>
    public override string ToString() => NbdUri.Format(this);

    internal void Validate()
    {
        if (string.IsNullOrEmpty(SocketPath) && string.IsNullOrEmpty(Host))
        {
            throw new ArgumentException("Either a host or a unix socket path is needed.");
        }

        if (Port is <= 0 or > 65535)
        {
            throw new ArgumentOutOfRangeException(nameof(Port), Port, "The port must be 1..65535.");
        }

        if (Connections is < 1 or > 64)
        {
            throw new ArgumentOutOfRangeException(nameof(Connections), Connections, "Connections must be 1..64.");
        }

        if (System.Text.Encoding.UTF8.GetByteCount(ExportName) > 4096 || ExportName.Contains('\0', StringComparison.Ordinal))
        {
            throw new ArgumentException("An export name is at most 4096 bytes of UTF-8 without NUL.", nameof(ExportName));
        }

        if (MaximumRequestSize < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(MaximumRequestSize));
        }
    }
}
