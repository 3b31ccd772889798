using System.Management.Automation;
using System.Net;
using System.Security.Cryptography.X509Certificates;
using VirtualDevices.Block;
using VirtualDevices.Nbd;
using VirtualDevices.Nbd.Server;
using VirtualDevices.PowerShell.Infrastructure;

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
    [ValidatePattern("^[A-Za-z0-9_.-]+$")]
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
        string? certificates = TlsCertificates is null ? null : GetUnresolvedProviderPathFromPSPath(TlsCertificates);
        string where = string.Join(" and ", new[] { tcp ? $"{Address}:{Port}" : null, socketPath }.Where(s => s is not null));
        int count = _devices.Count + _paths.Count;
        if (ExportName is not null && count > 1)
        {
            ThrowTerminatingError(ErrorRecords.FromException(new ArgumentException("-ExportName names the export of a single device; several devices are exported under their own names."), ExportName));
        }

        IPAddress address = Address switch
        {
            "localhost" => IPAddress.Loopback,
            "*" => IPAddress.IPv6Any,
            _ when IPAddress.TryParse(Address, out IPAddress? parsed) => parsed,
            _ => null!,
        };
        if (address is null)
        {
            ThrowTerminatingError(ErrorRecords.FromException(new ArgumentException($"'{Address}' is not an IP address (or localhost, or * for every address)."), Address));
        }

        // Certificates without -Tls mean TLS: serving them in clear would be a surprise, never a wish.
        NbdTlsMode tls = MyInvocation.BoundParameters.ContainsKey(nameof(Tls)) || (Certificate is null && certificates is null) ? Tls : NbdTlsMode.Require;
        if (count == 0 || !ShouldProcess(where, $"Serve {count} device(s) over NBD"))
        {
            return;
        }

        Run(async cancellationToken =>
        {
            var owned = new List<IBlockDevice>();
            NbdServer? server = null;
            try
            {
                foreach (string path in _paths)
                {
                    owned.Add(FileBlockDevice.Open(path, new FileBlockDeviceOptions { ReadOnly = ReadOnly, Name = System.IO.Path.GetFileName(path) }));
                }

                List<IBlockDevice> devices = [.. _devices, .. owned];
                var exports = new List<NbdExport>();
                foreach (IBlockDevice device in devices)
                {
                    exports.Add(new NbdExport(devices.Count == 1 ? ExportName ?? string.Empty : device.Name, device, DescriptionOf(device), ReadOnly));
                }

                if (devices.Count == 1 && ExportName is null)
                {
                    exports.Add(new NbdExport(devices[0].Name, devices[0], DescriptionOf(devices[0]), ReadOnly));
                }

                var options = new NbdServerOptions
                {
                    TcpEndPoint = tcp ? new IPEndPoint(address!, Port) : null,
                    UnixSocketPath = socketPath,
                    Tls = tls,
                    TlsCertificate = Certificate ?? LoadCertificate(certificates),
                    TlsClientAuthorities = LoadAuthorities(certificates),
                };
                server = new NbdServer(options, [.. exports]);
                await server.StartAsync(cancellationToken).ConfigureAwait(false);
                var host = new NbdServerHost(server, owned);
                string name = Session.Services.Add(host, Name, "nbd-server");
                Emit(ServerObjects.Named(server, name));
            }
            catch
            {
                if (server is not null)
                {
                    await server.DisposeAsync().ConfigureAwait(false);
                }

                foreach (IBlockDevice device in owned)
                {
                    await device.DisconnectAsync(CancellationToken.None).ConfigureAwait(false);
                }

                throw;
            }
        }, where);
    }

    /// <summary>
    /// What clients are told an export is: the device's name unless -Description says otherwise. Not the device's
    /// ToString, which names the image's host path: clients have no business knowing the server's file layout.
    /// </summary>
    private string DescriptionOf(IBlockDevice device) => Description ?? device.Name;

    private static X509Certificate2? LoadCertificate(string? directory)
    {
        if (directory is null)
        {
            return null;
        }

        string certificate = System.IO.Path.Combine(directory, "server-cert.pem");
        string key = System.IO.Path.Combine(directory, "server-key.pem");
        return X509Certificate2.CreateFromPemFile(certificate, key);
    }

    private static X509Certificate2Collection? LoadAuthorities(string? directory)
    {
        string? authority = directory is null ? null : System.IO.Path.Combine(directory, "ca-cert.pem");
        if (authority is null || !File.Exists(authority))
        {
            return null;
        }

        var authorities = new X509Certificate2Collection();
        authorities.ImportFromPemFile(authority);
        return authorities;
    }
}
