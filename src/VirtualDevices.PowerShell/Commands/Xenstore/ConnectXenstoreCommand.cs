namespace VirtualDevices.PowerShell.Commands.Xenstore;

/// <summary>
/// <para type="synopsis">Connects to a xenstore (a xenstored socket, the xenbus device, or an embedded server) and makes it the session's.</para>
/// </summary>
[Cmdlet(VerbsCommunications.Connect, "Xenstore", DefaultParameterSetName = DefaultSet, HelpUri = "https://github.com/VirtualDevices/VirtualDevices/blob/main/docs/VirtualDevices/Connect-Xenstore.md")]
[OutputType(typeof(XenstoreClient))]
public sealed class ConnectXenstoreCommand : AsyncCmdlet
{
    private const string DefaultSet = "Default";
    private const string SocketSet = "Socket";
    private const string DeviceSet = "Device";
    private const string ServerSet = "Server";

    /// <summary>The unix socket of xenstored or of an embedded server (default: XENSTORED_PATH, then /var/run/xenstored/socket).</summary>
    [Parameter(Mandatory = true, Position = 0, ParameterSetName = SocketSet)]
    [ValidateNotNullOrEmpty]
    public string SocketPath { get; set; } = null!;

    /// <summary>The xenbus device of a Xen guest (usually /dev/xen/xenbus).</summary>
    [Parameter(Mandatory = true, ParameterSetName = DeviceSet)]
    [ValidateNotNullOrEmpty]
    public string DevicePath { get; set; } = null!;

    /// <summary>An embedded server started with Start-XenstoreServer, or its name: connect inside this process.</summary>
    [Parameter(Mandatory = true, ParameterSetName = ServerSet, ValueFromPipeline = true)]
    [XenstoreServerTransformation]
    [ArgumentCompleter(typeof(ServerNameCompleter))]
    public XenstoreServer Server { get; set; } = null!;

    /// <summary>With -Server, the domain to speak as (default 0, the privileged domain).</summary>
    [Parameter(ParameterSetName = ServerSet)]
    [ValidateRange(0, 32751)]
    public int DomainId { get; set; }

    /// <inheritdoc/>
    protected override void ProcessRecord()
    {
        if (ParameterSetName == ServerSet && UnknownServers.Report(this, Server))
        {
            return;
        }

        string? socketPath = ParameterSetName == SocketSet ? GetUnresolvedProviderPathFromPSPath(SocketPath) : null;
        string? devicePath = ParameterSetName == DeviceSet ? GetUnresolvedProviderPathFromPSPath(DevicePath) : null;
        Run(async cancellationToken =>
        {
            XenstoreClient client = ParameterSetName switch
            {
                SocketSet => await XenstoreClient.ConnectAsync(ModuleSession.XenstoreOptions with { SocketPath = socketPath }, cancellationToken).ConfigureAwait(false),
                DeviceSet => XenstoreClient.OpenDevice(devicePath!, ModuleSession.XenstoreOptions),
                ServerSet => XenstoreClient.ConnectInProcess(Server, DomainId, ModuleSession.XenstoreOptions),
                _ => await XenstoreClient.ConnectAsync(ModuleSession.XenstoreOptions, cancellationToken).ConfigureAwait(false),
            };
            // The previous connection stays open (a -Store argument may still name it) until Disconnect-Xenstore or
            // the end of the session.
            Session.Xenstore.Use(client, ParameterSetName == ServerSet ? Server : null);
            Emit(client);
        }, socketPath ?? devicePath ?? (object?)Server);
    }
}
