using VirtualDevices.Network;

namespace VirtualDevices.PowerShell.Commands.Network;

/// <summary>The network devices among those a -Device parameter bound: unknown names and other kinds reported, non-terminating.</summary>
internal static class NetworkDevices
{
    /// <summary>The network devices of <paramref name="devices"/>; writes DeviceNotFound or DeviceNotNetwork for the rest.</summary>
    public static List<INetworkDevice> Select(Cmdlet cmdlet, IEnumerable<IDevice> devices)
    {
        var found = new List<INetworkDevice>();
        foreach (IDevice device in devices)
        {
            if (UnknownDevice.Report(cmdlet, device))
            {
                continue;
            }

            if (device is INetworkDevice network)
            {
                found.Add(network);
                continue;
            }

            cmdlet.WriteError(ErrorRecords.FromException(new DeviceException(DeviceErrorIds.Network.NotNetworkDevice, DeviceErrorCategory.InvalidArgument,
                $"'{device.Name}' is a {device.Kind.ToString().ToLowerInvariant()} device, not a network device.", device.Name), device.Name));
        }

        return found;
    }
}
