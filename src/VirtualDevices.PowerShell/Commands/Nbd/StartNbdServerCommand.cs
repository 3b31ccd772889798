using System.Net;
using System.Security.Cryptography.X509Certificates;
using VirtualDevices.Nbd;

namespace VirtualDevices.PowerShell.Commands.Nbd;

/// <summary>
/// <para type="synopsis">Serves block devices over NBD, in the background of the session, on TCP or a unix socket.</para>
/// </summary>
[Cmdlet(VerbsLifecycle.Start, "NbdServer", DefaultParameterSetName = DeviceSet, SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium, HelpUri = "https://github.com/VirtualDevices/VirtualDevices/blob/main/docs/VirtualDevices/Start-NbdServer.md")]
[OutputType(typeof(NbdServer))]
public sealed class StartNbdServerCommand : AsyncCmdlet
{
    private const string DeviceSet = "Device";
    private const string PathSet = "Path";
    private readonly List<IBlockDevice> _devices = [];
    private readonly List<string> _paths = [];

    /// <summary>Devices open in the session, or their names, to serve; each is exported under its name (a single device also as the default export "").</summary>
    [Parameter(Mandatory = true, Position = 0, ParameterSetName = DeviceSet, ValueFromPipeline = true)]
    [DeviceTransformation]
    [ArgumentCompleter(typeof(DeviceNameCompleter))]
    public IBlockDevice[] Device { get; set; } = null!;

    /// <summary>Disk images or block-special files to serve; the server opens them and closes them when it stops.</summary>
    [Parameter(Mandatory = true, ParameterSetName = PathSet, ValueFromPipelineByPropertyName = true)]
    [Alias("FullName")]
    [ValidateNotNullOrEmpty]
    public string[] Path { get; set; } = null!;

    /// <summary>The export name of a single device (default ""); several devices are exported under their names.</summary>
    [Parameter]
    [AllowEmptyString]
    public string? ExportName { get; set; }

    /// <summary>The description clients see (nbdinfo --list); by default the device's name, never a host path.</summary>
    [Parameter]
    [AllowEmptyString]
    public string? Description { get; set; }

    /// <summary>Export read-only: clients' writes, trims and zeroing are refused.</summary>
    [Parameter]
    public SwitchParameter ReadOnly { get; set; }

    /// <summary>The TCP port to listen on (default 10809, unless only -SocketPath is given).</summary>
    [Parameter]
    [ValidateRange(0, 65535)]
    public int Port { get; set; } = 10809;

    /// <summary>The address to listen on: an IP address, localhost, or * for every address (default 127.0.0.1: only this machine).</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string Address { get; set; } = "127.0.0.1";

    /// <summary>A unix socket to listen on (instead of TCP, or as well when -Port is given too).</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? SocketPath { get; set; }

    /// <summary>TLS: Off, On (offered to clients) or Require; Require by default when a certificate is given, else Off.</summary>
    [Parameter]
    public NbdTlsMode Tls { get; set; }

    /// <summary>A directory of PEM files as nbdkit uses: server-cert.pem and server-key.pem (and ca-cert.pem to check client certificates).</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? TlsCertificates { get; set; }

    /// <summary>The server's certificate, with its private key (instead of -TlsCertificates).</summary>
    [Parameter]
    public X509Certificate2? Certificate { get; set; }

    /// <summary>The server's name in the session (default nbd-serverN).</summary>
    [Parameter]
    [ValidateHostName]
    public string? Name { get; set; }

    /// <inheritdoc/>
    protected override void ProcessRecord()
    {
        if (ParameterSetName == DeviceSet)
        {
            _devices.AddRange(Device.Where(d => !UnknownDevice.Report(this, d)));
        }
        else
        {
            _paths.AddRange(Path.Select(GetUnresolvedProviderPathFromPSPath));
        }
    }

    /// <inheritdoc/>
    protected override void EndProcessing()
    {
        bool tcp = MyInvocation.BoundParameters.ContainsKey(nameof(Port)) || SocketPath is null;
        string? socketPath = SocketPath is null ? null : GetUnresolvedProviderPathFromPSPath(SocketPath);
        string where = string.Join(" and ", new[] { tcp ? $"{Address}:{Port}" : null, socketPath }.Where(s => s is not null));
        IPAddress address = Address switch
        {
            "localhost" => IPAddress.Loopback,
            "*" => IPAddress.IPv6Any,
            _ when IPAddress.TryParse(Address, out IPAddress? parsed) => parsed,
            _ => null!,
        };
        var setup = new NbdServerSetup
        {
            Devices = _devices,
            ImagePaths = _paths,
            ExportName = ExportName,
            Description = Description,
            ReadOnly = ReadOnly,
            TcpEndPoint = tcp && address is not null ? new IPEndPoint(address, Port) : null,
            UnixSocketPath = socketPath,
            Tls = MyInvocation.BoundParameters.ContainsKey(nameof(Tls)) ? Tls : null,
            Certificate = Certificate,
            CertificateDirectory = TlsCertificates is null ? null : GetUnresolvedProviderPathFromPSPath(TlsCertificates),
        };
        try
        {
            setup.Validate();
        }
        catch (ArgumentException e)
        {
            ThrowTerminatingError(ErrorRecords.FromException(e, ExportName));
        }

        if (address is null)
        {
            ThrowTerminatingError(ErrorRecords.FromException(new ArgumentException($"'{Address}' is not an IP address (or localhost, or * for every address)."), Address));
        }

        if (setup.DeviceCount == 0 || !ShouldProcess(where, $"Serve {setup.DeviceCount} device(s) over NBD"))
        {
            return;
        }

        Run(async cancellationToken =>
        {
            string name = string.Empty;
            NbdServerService service = await SessionHost.StartServiceAsync("nbd-server", Name, (given, ct) =>
            {
                name = given;
                return NbdServerService.StartAsync(setup, ct);
            }, cancellationToken).ConfigureAwait(false);
            Emit(ServerObjects.Named(service.Server, name));
        }, where);
    }
}
