namespace VirtualDevices.Network;

/// <summary>
/// Which way a frame went through a device, as pcapng's <c>epb_flags</c> bits 0-1 say it (the values are the
/// same); as flags, what a tap sees (<see cref="NetworkDevice.OpenTap(int, FrameDirection)"/>).
/// </summary>
[Flags]
public enum FrameDirection
{
    /// <summary>Not known (a pcap file, an EPB without flags).</summary>
    Unknown = 0,

    /// <summary>Received by the device.</summary>
    Inbound = 1,

    /// <summary>Sent by the device.</summary>
    Outbound = 2,

    /// <summary>Both ways (for a tap).</summary>
    Both = Inbound | Outbound,
}
