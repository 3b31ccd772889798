using VirtualDevices.Xen.Loopback;

namespace VirtualDevices.PowerShell.Commands.Xen;

/// <summary>
/// <para type="synopsis">Stops loopback hypervisors: every joined domain is disconnected (its grants and channels end) and the control socket is removed.</para>
/// </summary>
[Cmdlet(VerbsLifecycle.Stop, "XenLoopbackHypervisor", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium, HelpUri = "https://github.com/VirtualDevices/VirtualDevices/blob/main/docs/VirtualDevices/Stop-XenLoopbackHypervisor.md")]
[OutputType(typeof(void))]
public sealed class StopXenLoopbackHypervisorCommand : StopServerCommand<LoopbackHypervisor, LoopbackHypervisor>
{
    /// <summary>The hypervisors to stop, as objects or names.</summary>
    [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true)]
    [Alias("Name")]
    [XenLoopbackHypervisorTransformation]
    [ArgumentCompleter(typeof(XenLoopbackNameCompleter))]
    public LoopbackHypervisor[] Hypervisor { get; set; } = null!;

    /// <inheritdoc/>
    protected override IEnumerable<LoopbackHypervisor> Servers => Hypervisor;

    /// <inheritdoc/>
    protected override string Action => "Stop the loopback hypervisor (its domains are disconnected)";

    /// <inheritdoc/>
    protected override LoopbackHypervisor ServerOf(LoopbackHypervisor service) => service;

    /// <inheritdoc/>
    protected override string NameOutsideSession(LoopbackHypervisor server) => server.SocketPath ?? LoopbackHypervisor.DefaultPrefix;

    /// <inheritdoc/>
    protected override Func<CancellationToken, Task> Stop(LoopbackHypervisor server, LoopbackHypervisor? service) =>
        cancellationToken => SessionHost.StopServiceAsync(server, cancellationToken);
}
