namespace VirtualDevices.Network.Frames;

/// <summary>The ARP operation of a built frame (RFC 826).</summary>
public enum ArpOperation
{
    /// <summary>Who has the target address? (sent to the broadcast address).</summary>
    Request = 1,

    /// <summary>The sender's address is at the sender's MAC (sent to the target).</summary>
    Reply = 2,
}
