namespace VirtualDevices.Xen.Rings;

/// <summary><c>struct netif_tx_request</c> (<c>xen/io/netif.h</c>): a packet (or a fragment of one) the front sends.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct NetifTxRequest
{
    /// <summary><c>gref</c>: the grant of the page holding the data.</summary>
    public uint Gref;

    /// <summary><c>offset</c>: where the data starts in the page.</summary>
    public ushort Offset;

    /// <summary><c>flags</c>: <c>NETTXF_*</c> (<see cref="NetifFlags"/>).</summary>
    public ushort Flags;

    /// <summary><c>id</c>: echoed in the response.</summary>
    public ushort Id;

    /// <summary><c>size</c>: the packet's size (first fragment) or this fragment's.</summary>
    public ushort Size;
}
