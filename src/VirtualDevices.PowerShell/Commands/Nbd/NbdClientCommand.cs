using VirtualDevices.Nbd;

namespace VirtualDevices.PowerShell.Commands.Nbd;

/// <summary>The parameters every NBD client cmdlet takes to reach a server: a URI, or a host and port, or a unix socket.</summary>
public abstract class NbdClientCommand : AsyncCmdlet
{
    /// <summary>The parameter set of -Uri.</summary>
    protected const string UriSet = "Uri";

    /// <summary>The parameter set of -Server and -Port.</summary>
    protected const string TcpSet = "Tcp";

    /// <summary>The parameter set of -SocketPath.</summary>
    protected const string UnixSet = "Unix";

    /// <summary>An NBD URI: nbd://host[:port]/export, nbds://..., nbd+unix:///export?socket=/path, nbds+unix://...</summary>
    [Parameter(Mandatory = true, Position = 0, ParameterSetName = UriSet)]
    [ValidateNotNullOrEmpty]
    public string Uri { get; set; } = null!;

    /// <summary>The server's host name or address.</summary>
    [Parameter(Mandatory = true, ParameterSetName = TcpSet)]
    [Alias("Host", "ComputerName")]
    [ValidateNotNullOrEmpty]
    public string Server { get; set; } = null!;

    /// <summary>The server's TCP port (default 10809).</summary>
    [Parameter(ParameterSetName = TcpSet)]
    [ValidateRange(1, 65535)]
    public int Port { get; set; } = NbdClientOptions.DefaultPort;

    /// <summary>The server's unix socket.</summary>
    [Parameter(Mandatory = true, ParameterSetName = UnixSet)]
    [ValidateNotNullOrEmpty]
    public string SocketPath { get; set; } = null!;

    /// <summary>TLS: Off, On (when the server offers it) or Require; with -Uri, overrides the scheme's choice; Require by default with -TlsCertificates.</summary>
    [Parameter]
    public NbdTlsMode Tls { get; set; }

    /// <summary>A directory of PEM files as nbdkit and qemu use: ca-cert.pem, and client-cert.pem with client-key.pem.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? TlsCertificates { get; set; }

    /// <summary>Accept any server certificate (for tests with self-signed certificates only).</summary>
    [Parameter]
    public SwitchParameter SkipCertificateCheck { get; set; }

    /// <summary>Seconds to wait for the connection and handshake (default 30).</summary>
    [Parameter]
    [ValidateRange(0.1, 3600.0)]
    public double ConnectTimeout { get; set; } = 30;

    /// <summary>Seconds a request may wait for its reply before the connection is declared dead (default 60).</summary>
    [Parameter]
    [ValidateRange(0.1, 86400.0)]
    public double RequestTimeout { get; set; } = 60;

    /// <summary>The client options the parameters describe; call on the pipeline thread (paths are resolved here).</summary>
    /// <param name="exportName">The export to connect to, when the command names one outside a URI.</param>
    protected NbdClientOptions BuildOptions(string? exportName = null)
    {
        NbdClientOptions options = ParameterSetName switch
        {
            UriSet => BlockDeviceLease.ParseUri(Uri, GetUnresolvedProviderPathFromPSPath),
            TcpSet => new NbdClientOptions { Host = Server, Port = Port, ExportName = exportName ?? string.Empty },
            _ => new NbdClientOptions { SocketPath = GetUnresolvedProviderPathFromPSPath(SocketPath), ExportName = exportName ?? string.Empty },
        };

        if (ParameterSetName == UriSet && exportName is not null)
        {
            options = options with { ExportName = exportName };
        }

        if (MyInvocation.BoundParameters.ContainsKey(nameof(Tls)))
        {
            options = options with { Tls = Tls };
        }
        else if (TlsCertificates is not null && options.Tls == NbdTlsMode.Off)
        {
            // Certificates without -Tls mean TLS: sending them nowhere would be a surprise, never a wish.
            options = options with { Tls = NbdTlsMode.Require };
        }

        if (TlsCertificates is not null)
        {
            options = options with { TlsCertificatesDirectory = GetUnresolvedProviderPathFromPSPath(TlsCertificates) };
        }

        return options with
        {
            TlsVerifyPeer = !SkipCertificateCheck && options.TlsVerifyPeer,
            ConnectTimeout = TimeSpan.FromSeconds(ConnectTimeout),
            RequestTimeout = MyInvocation.BoundParameters.ContainsKey(nameof(RequestTimeout)) ? TimeSpan.FromSeconds(RequestTimeout) : options.RequestTimeout,
        };
    }

    /// <summary>What errors of this command are reported against.</summary>
    protected string TargetName => ParameterSetName switch
    {
        UriSet => Uri,
        TcpSet => $"{Server}:{Port}",
        _ => SocketPath,
    };
}
