using System.Net;

namespace VirtualDevices.Network;

/// <summary>What a virtual interface of this host is made with (a Linux TAP, a macOS vmnet interface).</summary>
public sealed record VirtualInterfaceOptions
{
    /// <summary>
    /// The interface's name (Linux: at most 15 bytes, and may hold one <c>%d</c> for the kernel to number); null for a
    /// generated <c>vdtapN</c>. macOS names vmnet interfaces itself and ignores it.
    /// </summary>
    public string? Name { get; init; }

    /// <summary>How the interface reaches anything.</summary>
    public NetworkInterfaceMode Mode { get; init; } = NetworkInterfaceMode.Host;

    /// <summary>The interface's MAC address; null to keep the one the kernel (or vmnet) gives it.</summary>
    public MacAddress? MacAddress { get; init; }

    /// <summary>The MTU; null to keep the interface's (1500 for a new TAP).</summary>
    public int? Mtu { get; init; }

    /// <summary>Host and Shared modes: the IPv4 address of the host's side of the link, or null for none (Shared needs one).</summary>
    public IPAddress? HostAddress { get; init; }

    /// <summary>The prefix length of <see cref="HostAddress"/> (the link's subnet, and what Shared mode translates).</summary>
    public int PrefixLength { get; init; } = 24;

    /// <summary>Bridged mode: the existing bridge (Linux) or physical interface (macOS) to attach to.</summary>
    public string? BridgeName { get; init; }

    /// <summary>Linux: the interface outlives the device (TUNSETPERSIST), for another program to attach to later.</summary>
    public bool Persistent { get; init; }

    /// <summary>Linux: queues (descriptors) of a multi-queue TAP (IFF_MULTI_QUEUE) when more than 1.</summary>
    public int Queues { get; init; } = 1;

    /// <summary>
    /// Linux: the network namespace to make the interface in, by name (<c>/var/run/netns/NAME</c>, as
    /// <c>ip netns add</c> makes) or by path; null for this process's namespace. The device's reads and writes then
    /// reach that namespace's kernel, and its configuration (address, bridge, NAT) is done there.
    /// </summary>
    public string? Namespace { get; init; }

    /// <summary>Frames the device's listener queues (see <see cref="NetworkDevice.ReceiveQueueLength"/>).</summary>
    public int ReceiveQueueLength { get; init; } = NetworkDevice.DefaultQueueLength;
}
