namespace VirtualDevices.PowerShell.Commands.Devices;

/// <summary>
/// <para type="synopsis">Sets the statistics of devices back to zero.</para>
/// </summary>
[Cmdlet(VerbsCommon.Reset, "DeviceStats", DefaultParameterSetName = NameSet, SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium, HelpUri = "https://github.com/VirtualDevices/VirtualDevices/blob/main/docs/VirtualDevices/Reset-DeviceStats.md")]
[OutputType(typeof(BlockStatistics), typeof(NetworkStatistics))]
public sealed class ResetDeviceStatsCommand : DeviceSelectionCommand
{
    /// <summary>Write the statistics as they were just before the reset.</summary>
    [Parameter]
    public SwitchParameter PassThru { get; set; }

    /// <inheritdoc/>
    protected override void ProcessRecord()
    {
        foreach (IDevice device in SelectDevices(ParameterSetName == DeviceSet ? Device : []))
        {
            if (!ShouldProcess(device.ToString()!, "Reset statistics"))
            {
                continue;
            }

            DeviceStatistics before = device.GetStatistics();
            device.ResetStatistics();
            if (PassThru)
            {
                WriteObject(before);
            }
        }
    }
}
