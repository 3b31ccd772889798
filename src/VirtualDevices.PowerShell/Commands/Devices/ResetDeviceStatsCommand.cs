using System.Management.Automation;
using VirtualDevices.Devices;
using VirtualDevices.PowerShell.Infrastructure;

namespace VirtualDevices.PowerShell.Commands.Devices;

/// <summary>
/// <para type="synopsis">Sets the statistics of devices back to zero.</para>
/// </summary>
[Cmdlet(VerbsCommon.Reset, "DeviceStats", DefaultParameterSetName = NameSet, SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
[OutputType(typeof(BlockStatistics), typeof(NetworkStatistics))]
public sealed class ResetDeviceStatsCommand : PSCmdlet
{
    private const string NameSet = "Name";
    private const string DeviceSet = "Device";

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

    /// <summary>Write the statistics as they were just before the reset.</summary>
    [Parameter]
    public SwitchParameter PassThru { get; set; }

    /// <inheritdoc/>
    protected override void ProcessRecord()
    {
        DeviceKind? kind = MyInvocation.BoundParameters.ContainsKey(nameof(Kind)) ? Kind : null;
        IReadOnlyList<IDevice> devices = ParameterSetName == DeviceSet
            ? Device.Where(d => kind is null || d.Kind == kind).ToArray()
            : DeviceSelection.ByName(ModuleSession.Current.Devices, Name, kind, WriteError);
        foreach (IDevice device in devices)
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
