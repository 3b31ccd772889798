using System.Management.Automation;
using VirtualDevices.Devices;
using VirtualDevices.PowerShell.Infrastructure;

namespace VirtualDevices.PowerShell.Commands.Devices;

/// <summary>
/// <para type="synopsis">Gets the statistics of devices open in the session: counters and rates.</para>
/// </summary>
[Cmdlet(VerbsCommon.Get, "DeviceStats", DefaultParameterSetName = NameSet)]
[OutputType(typeof(BlockStatistics), typeof(NetworkStatistics))]
public sealed class GetDeviceStatsCommand : AsyncCmdlet
{
    private const string NameSet = "Name";
    private const string DeviceSet = "Device";
    private readonly List<IDevice> _devices = [];

    /// <summary>Names of devices; wildcards are allowed (default: every device of the session).</summary>
    [Parameter(Position = 0, ParameterSetName = NameSet)]
    [SupportsWildcards]
    [ArgumentCompleter(typeof(DeviceNameCompleter))]
    public string[]? Name { get; set; }

    /// <summary>Devices, or their names; binds piped devices and the Device property of piped objects.</summary>
    [Parameter(Mandatory = true, Position = 0, ParameterSetName = DeviceSet, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
    [DeviceTransformation]
    [ArgumentCompleter(typeof(DeviceNameCompleter))]
    public IDevice[] Device { get; set; } = null!;

    /// <summary>Only devices of this family.</summary>
    [Parameter]
    public DeviceKind Kind { get; set; }

    /// <summary>Sample every this many seconds and show counters and rates over each interval.</summary>
    [Parameter]
    [ValidateRange(0.01, 86400.0)]
    public double Interval { get; set; }

    /// <summary>The number of samples to take (every second unless -Interval says otherwise); without -Interval and -Count, one snapshot.</summary>
    [Parameter]
    [ValidateRange(1, int.MaxValue)]
    public int Count { get; set; }

    /// <inheritdoc/>
    protected override void ProcessRecord()
    {
        if (ParameterSetName == DeviceSet)
        {
            _devices.AddRange(Device.Where(d => !_devices.Contains(d)));
        }
    }

    /// <inheritdoc/>
    protected override void EndProcessing()
    {
        DeviceKind? kind = MyInvocation.BoundParameters.ContainsKey(nameof(Kind)) ? Kind : null;
        IReadOnlyList<IDevice> devices = ParameterSetName == DeviceSet
            ? _devices.Where(d => kind is null || d.Kind == kind).ToArray()
            : DeviceSelection.ByName(Registry, Name, kind, WriteError);
        bool sampling = MyInvocation.BoundParameters.ContainsKey(nameof(Interval)) || MyInvocation.BoundParameters.ContainsKey(nameof(Count));
        if (!sampling)
        {
            foreach (IDevice device in devices)
            {
                WriteObject(device.GetStatistics());
            }

            return;
        }

        int samples = MyInvocation.BoundParameters.ContainsKey(nameof(Count)) ? Count : int.MaxValue;
        TimeSpan interval = TimeSpan.FromSeconds(MyInvocation.BoundParameters.ContainsKey(nameof(Interval)) ? Interval : 1);
        if (devices.Count == 0)
        {
            return;
        }

        Run(async cancellationToken =>
        {
            DeviceStatistics[] previous = devices.Select(d => d.GetStatistics()).ToArray();
            for (int sample = 0; sample < samples; sample++)
            {
                await Task.Delay(interval, cancellationToken).ConfigureAwait(false);
                for (int i = 0; i < devices.Count; i++)
                {
                    DeviceStatistics current = devices[i].GetStatistics();
                    // A reset in between would make the difference negative: show the counters since the reset instead.
                    Emit(current.Start > previous[i].Timestamp ? current : current.Since(previous[i]));
                    previous[i] = current;
                }
            }
        });
    }
}
