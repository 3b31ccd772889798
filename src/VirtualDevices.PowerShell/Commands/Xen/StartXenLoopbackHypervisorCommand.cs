using System.Globalization;
using VirtualDevices.Xen.Loopback;

namespace VirtualDevices.PowerShell.Commands.Xen;

/// <summary>
/// <para type="synopsis">Starts a loopback hypervisor (Xen without Xen) in the session: other sessions and processes join it as domains through its control socket.</para>
/// </summary>
[Cmdlet(VerbsLifecycle.Start, "XenLoopbackHypervisor", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Low, HelpUri = "https://github.com/VirtualDevices/VirtualDevices/blob/main/docs/VirtualDevices/Start-XenLoopbackHypervisor.md")]
[OutputType(typeof(LoopbackHypervisor))]
public sealed class StartXenLoopbackHypervisorCommand : AsyncCmdlet
{
    /// <summary>The control socket to create (default: a new socket under the runtime or temporary directory).</summary>
    [Parameter(Position = 0)]
    [ValidateNotNullOrEmpty]
    public string? SocketPath { get; set; }

    /// <summary>The hypervisor's name in the session (default xen-loopbackN).</summary>
    [Parameter]
    [ValidateHostName]
    public string? Name { get; set; }

    /// <summary>
    /// Runs xenstore in the hypervisor (the embedded server, dom0's) and listens for dom0's xenstore clients on this
    /// unix socket (Connect-Xenstore -SocketPath, or the xenstore tools with XENSTORED_PATH). Every domain that joins
    /// then gets its xenstore over a ring page and an event channel, as on Xen, and its home /local/domain/ID.
    /// </summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? XenstoreSocketPath { get; set; }

    /// <inheritdoc/>
    protected override void ProcessRecord()
    {
        string socketPath = SocketPath is null ? DefaultSocketPath() : GetUnresolvedProviderPathFromPSPath(SocketPath);
        string? xenstoreSocketPath = XenstoreSocketPath is null ? null : GetUnresolvedProviderPathFromPSPath(XenstoreSocketPath);
        if (!ShouldProcess(socketPath, xenstoreSocketPath is null ? "Start a loopback hypervisor" : $"Start a loopback hypervisor with xenstore on '{xenstoreSocketPath}'"))
        {
            return;
        }

        Run(async cancellationToken =>
        {
            // The host checks the name before the socket is made, so a name in use never touches the path.
            LoopbackHypervisor hypervisor = xenstoreSocketPath is null
                ? await LoopbackHypervisor.StartAsync(SessionHost, Name, socketPath, cancellationToken).ConfigureAwait(false)
                : await LoopbackHypervisor.StartWithXenstoreAsync(SessionHost, Name, socketPath, xenstoreSocketPath, cancellationToken).ConfigureAwait(false);
            Emit(ServerObjects.Named(hypervisor, SessionHost.NameOf(hypervisor) ?? LoopbackHypervisor.DefaultPrefix));
        }, socketPath);
    }

    private static string DefaultSocketPath()
    {
        string directory = Environment.GetEnvironmentVariable("XDG_RUNTIME_DIR") is { Length: > 0 } runtime && Directory.Exists(runtime)
            ? runtime
            : System.IO.Path.GetTempPath();
        // Unix socket paths are limited to about 100 bytes: keep the name short.
        return System.IO.Path.Combine(directory, string.Create(CultureInfo.InvariantCulture, $"vd-xen-{Environment.ProcessId}-{Guid.NewGuid().ToString("N")[..8]}.sock"));
    }
}
