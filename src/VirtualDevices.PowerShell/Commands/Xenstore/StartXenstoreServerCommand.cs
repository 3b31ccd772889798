using System.Globalization;

namespace VirtualDevices.PowerShell.Commands.Xenstore;

/// <summary>
/// <para type="synopsis">Starts an embedded, in-memory xenstore server on a unix socket, for the rest of the session.</para>
/// </summary>
[Cmdlet(VerbsLifecycle.Start, "XenstoreServer", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Low, HelpUri = "https://github.com/VirtualDevices/VirtualDevices/blob/main/docs/VirtualDevices/Start-XenstoreServer.md")]
[OutputType(typeof(XenstoreServer))]
public sealed class StartXenstoreServerCommand : AsyncCmdlet
{
    /// <summary>The unix socket to listen on (default: a new socket under the runtime or temporary directory).</summary>
    [Parameter(Position = 0)]
    [ValidateNotNullOrEmpty]
    public string? SocketPath { get; set; }

    /// <summary>The server's name in the session (default xenstoreN).</summary>
    [Parameter]
    [ValidateHostName]
    public string? Name { get; set; }

    /// <summary>Do not make the new server the session's xenstore (by default it becomes it when the session has none).</summary>
    [Parameter]
    public SwitchParameter NoConnect { get; set; }

    /// <inheritdoc/>
    protected override void ProcessRecord()
    {
        string socketPath = SocketPath is null ? DefaultSocketPath() : GetUnresolvedProviderPathFromPSPath(SocketPath);
        if (!ShouldProcess(socketPath, "Start an embedded xenstore server"))
        {
            return;
        }

        Run(async cancellationToken =>
        {
            // The host checks the name before the server listens, so a name in use never costs another server its socket.
            string name = string.Empty;
            XenstoreServerService service = await SessionHost.StartServiceAsync("xenstore", Name, (given, _) =>
            {
                name = given;
                return Task.FromResult(new XenstoreServerService(XenstoreServer.Listen(socketPath), Session.Xenstore));
            }, cancellationToken).ConfigureAwait(false);
            if (!NoConnect && Session.Xenstore.UseIfNone(service.Server) is not null)
            {
                EmitVerbose($"The session now talks to xenstore server '{name}'.");
            }

            Emit(ServerObjects.Named(service.Server, name));
        }, socketPath);
    }

    private static string DefaultSocketPath()
    {
        string directory = Environment.GetEnvironmentVariable("XDG_RUNTIME_DIR") is { Length: > 0 } runtime && Directory.Exists(runtime)
            ? runtime
            : System.IO.Path.GetTempPath();
        // Unix socket paths are limited to about 100 bytes: keep the name short.
        return System.IO.Path.Combine(directory, string.Create(CultureInfo.InvariantCulture, $"vd-xenstore-{Environment.ProcessId}-{Guid.NewGuid().ToString("N")[..8]}.sock"));
    }
}
