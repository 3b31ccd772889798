namespace VirtualDevices.Network.Switch;

/// <summary>An address a switch has learned: on which port, in which VLAN (0 for untagged frames), and how long ago.</summary>
/// <param name="MacAddress">The source address learned.</param>
/// <param name="Vlan">The 802.1Q VLAN id of the frames it came in (0 for untagged).</param>
/// <param name="Port">The port it was seen on.</param>
/// <param name="Age">Since it was last seen.</param>
public sealed record MacTableEntry(MacAddress MacAddress, int Vlan, SwitchPort Port, TimeSpan Age)
{
    /// <summary>The device's name on the port.</summary>
    public string DeviceName => Port.DeviceName;
}
