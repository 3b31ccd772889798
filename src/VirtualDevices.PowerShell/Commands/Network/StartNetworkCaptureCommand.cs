using VirtualDevices.Network;
using VirtualDevices.Network.Capture;

namespace VirtualDevices.PowerShell.Commands.Network;

/// <summary>
/// <para type="synopsis">Captures network devices to a pcapng file in the background, while other commands use them.</para>
/// </summary>
[Cmdlet(VerbsLifecycle.Start, "NetworkCapture", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium, HelpUri = "https://github.com/VirtualDevices/VirtualDevices/blob/main/docs/VirtualDevices/Start-NetworkCapture.md")]
[OutputType(typeof(NetworkCapture))]
public sealed class StartNetworkCaptureCommand : AsyncCmdlet
{
    private readonly List<INetworkDevice> _devices = [];

    /// <summary>The network devices to capture, or their names; each is an interface of the file.</summary>
    [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true)]
    [DeviceTransformation]
    [ArgumentCompleter(typeof(DeviceNameCompleter))]
    public IDevice[] Device { get; set; } = null!;

    /// <summary>The pcapng file to write.</summary>
    [Parameter(Mandatory = true, Position = 1)]
    [ValidateNotNullOrEmpty]
    public string Path { get; set; } = null!;

    /// <summary>Frames received (Inbound), sent (Outbound) or both (default).</summary>
    [Parameter]
    [ValidateSet("Inbound", "Outbound", "Both")]
    public FrameDirection Direction { get; set; } = FrameDirection.Both;

    /// <summary>Frames each device's tap holds while the file catches up (default 4096); beyond, frames are dropped and counted.</summary>
    [Parameter]
    [ValidateRange(1, 1048576)]
    public int QueueLength { get; set; } = 4096;

    /// <summary>Replace the file if it exists (without it, an existing file is refused and left untouched).</summary>
    [Parameter]
    public SwitchParameter Force { get; set; }

    /// <summary>The capture's name in the session (default captureN).</summary>
    [Parameter]
    [ValidateHostName]
    public string? Name { get; set; }

    /// <inheritdoc/>
    protected override void ProcessRecord() => _devices.AddRange(NetworkDevices.Select(this, Device));

    /// <inheritdoc/>
    protected override void EndProcessing()
    {
        if (_devices.Count == 0)
        {
            return;
        }

        string path = GetUnresolvedProviderPathFromPSPath(Path);
        if (!ShouldProcess(path, $"Capture {string.Join(", ", _devices.Select(d => d.Name))} to a pcapng file"))
        {
            return;
        }

        Run(async cancellationToken =>
        {
            NetworkCapture capture = await SessionHost.StartServiceAsync("capture", Name,
                (_, _) => Task.FromResult(NetworkCapture.Start(_devices, path, Force, Direction, QueueLength)), cancellationToken).ConfigureAwait(false);
            Emit(ServerObjects.Named(capture, SessionHost.NameOf(capture) ?? "capture"));
        }, path);
    }
}
