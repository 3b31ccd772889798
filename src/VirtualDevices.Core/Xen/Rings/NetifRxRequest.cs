namespace VirtualDevices.Xen.Rings;

/// <summary><c>struct netif_rx_request</c> (<c>xen/io/netif.h</c>): a page the front offers for a received packet.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct NetifRxRequest
{
    /// <summary><c>id</c>: echoed in the response.</summary>
    public ushort Id;

    /// <summary><c>pad</c>.</summary>
    public ushort Pad;

    /// <summary><c>gref</c>: the grant of the page to receive into.</summary>
    public uint Gref;
}
