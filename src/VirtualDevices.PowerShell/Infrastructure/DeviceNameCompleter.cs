namespace VirtualDevices.PowerShell.Infrastructure;

/// <summary>Completes the names of the devices open in the session (all of them, or one family).</summary>
public sealed class DeviceNameCompleter : SessionNameCompleter
{
    /// <inheritdoc/>
    protected override IEnumerable<(string Name, string Description)> Candidates(string commandName, DeviceHost host)
    {
        DeviceKind? kind = commandName.Contains("Block", StringComparison.OrdinalIgnoreCase) ? DeviceKind.Block
            : commandName.Contains("Network", StringComparison.OrdinalIgnoreCase) ? DeviceKind.Network
            : null;
        // Disconnect-NbdDevice takes NBD devices only (it refuses the others), so it offers only those; Start-NbdServer
        // and Connect-NbdDevice serve or name any block device.
        bool nbdOnly = string.Equals(commandName, "Disconnect-NbdDevice", StringComparison.OrdinalIgnoreCase);
        return host.Devices
            .Where(d => (!nbdOnly || d is VirtualDevices.Nbd.Client.NbdBlockDevice) && (kind is null || d.Kind == kind))
            .Select(d => (d.Name, $"{d.Driver} {d.Location}"));
    }
}
