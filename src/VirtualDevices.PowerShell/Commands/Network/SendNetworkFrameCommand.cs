using VirtualDevices.Network;

namespace VirtualDevices.PowerShell.Commands.Network;

/// <summary>
/// <para type="synopsis">Sends Ethernet frames on a network device: frames built by New-NetworkFrame, read by Import-NetworkCapture or received, or raw bytes.</para>
/// </summary>
[Cmdlet(VerbsCommunications.Send, "NetworkFrame", DefaultParameterSetName = FrameSet, SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Low, HelpUri = "https://github.com/VirtualDevices/VirtualDevices/blob/main/docs/VirtualDevices/Send-NetworkFrame.md")]
[OutputType(typeof(void))]
public sealed class SendNetworkFrameCommand : AsyncCmdlet
{
    private const string FrameSet = "Frame";
    private const string DataSet = "Data";
    private INetworkDevice? _device;
    private bool _resolved;

    /// <summary>The network device to send on, or its name.</summary>
    [Parameter(Mandatory = true, Position = 0)]
    [DeviceTransformation(Scalar = true)]
    [ArgumentCompleter(typeof(DeviceNameCompleter))]
    public IDevice Device { get; set; } = null!;

    /// <summary>The frames to send (their bytes, whatever device they were seen on).</summary>
    [Parameter(Mandatory = true, Position = 1, ValueFromPipeline = true, ParameterSetName = FrameSet)]
    public EthernetFrame[] Frame { get; set; } = null!;

    /// <summary>One frame as bytes, header included (without the FCS).</summary>
    [Parameter(Mandatory = true, ParameterSetName = DataSet)]
    public byte[] Data { get; set; } = null!;

    /// <inheritdoc/>
    protected override void ProcessRecord()
    {
        if (!_resolved)
        {
            _resolved = true;
            _device = NetworkDevices.Select(this, [Device]).FirstOrDefault();
        }

        if (_device is not INetworkDevice device)
        {
            return;
        }

        IEnumerable<byte[]> frames = ParameterSetName == DataSet ? [Data] : Frame.Select(f => f.Data);
        foreach (byte[] frame in frames)
        {
            if (!ShouldProcess(device.Name, $"Send a frame of {frame.Length} bytes"))
            {
                continue;
            }

            Run(async cancellationToken => await device.WriteAsync(frame, cancellationToken).ConfigureAwait(false), device.Name);
        }
    }
}
