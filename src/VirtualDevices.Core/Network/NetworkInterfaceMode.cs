namespace VirtualDevices.Network;

/// <summary>
/// How a virtual interface of this host (a Linux TAP, a macOS vmnet interface) reaches anything: vmnet's three
/// modes, which mean the same on Linux.
/// </summary>
public enum NetworkInterfaceMode
{
    /// <summary>An isolated link to this host only: the host's side of the link may have an address, nothing is forwarded.</summary>
    Host,

    /// <summary>
    /// The host link plus NAT to the outside: on Linux, IPv4 forwarding and an nftables masquerade table for the host
    /// address's subnet, both removed at stop; on macOS, vmnet's shared mode (its own DHCP and NAT).
    /// </summary>
    Shared,

    /// <summary>Attached to an existing bridge (Linux) or physical interface (macOS) named by the caller.</summary>
    Bridged,
}
