namespace VirtualDevices.PowerShell.Commands.Devices;

/// <summary>
/// <para type="synopsis">Gets the statistics of devices open in the session: counters and rates.</para>
/// </summary>
[Cmdlet(VerbsCommon.Get, "DeviceStats", DefaultParameterSetName = NameSet, HelpUri = "https://github.com/VirtualDevices/VirtualDevices/blob/main/docs/VirtualDevices/Get-DeviceStats.md")]
[OutputType(typeof(BlockStatistics), typeof(NetworkStatistics))]
public sealed class GetDeviceStatsCommand : DeviceSelectionCommand
{
    private readonly List<IDevice> _devices = [];

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
            _devices.AddRange(Device);
        }
    }

    /// <inheritdoc/>
    protected override void EndProcessing()
    {
        IReadOnlyList<IDevice> devices = SelectDevices(_devices);
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
