using VirtualDevices.Network;
using VirtualDevices.Network.Switch;

namespace VirtualDevices.PowerShell.Commands.Network;

/// <summary>
/// <para type="synopsis">Connects network devices of the session to a software switch (made if needed), which forwards frames between them by learned MAC address.</para>
/// <para type="description">
/// Each device becomes a port of the switch: the switch becomes its listener (read it with a capture tap instead)
/// and writes it the frames meant for it. Without -Switch, the devices of one command join a new switch (switchN);
/// with -Switch, they join that switch, made if the session has none of that name. Writes one port object per device,
/// with its counters. Get-NetworkSwitch lists switches; Disconnect-NetworkDevice takes a device off its switch.
/// </para>
/// </summary>
[Cmdlet(VerbsCommunications.Connect, "NetworkDevice", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Low, HelpUri = "https://github.com/VirtualDevices/VirtualDevices/blob/main/docs/VirtualDevices/Connect-NetworkDevice.md")]
[OutputType(typeof(SwitchPort))]
public sealed class ConnectNetworkDeviceCommand : AsyncCmdlet
{
    private NetworkSwitch? _switch;

    /// <summary>Network devices of the session, or their names.</summary>
    [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true)]
    [DeviceTransformation]
    [ArgumentCompleter(typeof(DeviceNameCompleter))]
    public IDevice[] Device { get; set; } = null!;

    /// <summary>The switch to join, made if the session has none of that name (default: a new switchN for this command's devices).</summary>
    [Parameter]
    [ValidateHostName]
    public string? Switch { get; set; }

    /// <summary>How long the switch remembers an address without traffic from it, in seconds (a new switch only; default 300).</summary>
    [Parameter]
    [ValidateRange(1, 86400)]
    public int AgeingTime { get; set; } = 300;

    /// <inheritdoc/>
    protected override void ProcessRecord()
    {
        foreach (IDevice device in Device)
        {
            if (UnknownDevice.Report(this, device))
            {
                continue;
            }

            if (device is not INetworkDevice network)
            {
                WriteError(ErrorRecords.FromException(new ArgumentException($"'{device.Name}' is a {device.Kind} device; only network devices join a switch."), device));
                continue;
            }

            if (!ShouldProcess(device.Name, $"Connect to switch {Switch ?? _switch?.Name ?? "(new)"}"))
            {
                continue;
            }

            Run(async cancellationToken =>
            {
                NetworkSwitch target = _switch ??= await FindOrStartAsync(SessionHost, cancellationToken).ConfigureAwait(false);
                Emit(target.Connect(network));
            }, device);
        }
    }

    private async Task<NetworkSwitch> FindOrStartAsync(DeviceHost host, CancellationToken cancellationToken)
    {
        if (Switch is not null && host.GetServices<NetworkSwitch>().FirstOrDefault(s => string.Equals(s.Name, Switch, StringComparison.OrdinalIgnoreCase)).Service is { } existing)
        {
            return existing;
        }

        return await host.StartServiceAsync("switch", Switch, (name, _) => Task.FromResult(new NetworkSwitch(name, TimeSpan.FromSeconds(AgeingTime))), cancellationToken).ConfigureAwait(false);
    }
}
