namespace VirtualDevices.Xen.Rings;

/// <summary><c>struct netif_rx_response</c> (<c>xen/io/netif.h</c>).</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct NetifRxResponse
{
    /// <summary><c>id</c>: the request's.</summary>
    public ushort Id;

    /// <summary><c>offset</c>: where the data starts in the page.</summary>
    public ushort Offset;

    /// <summary><c>flags</c>: <c>NETRXF_*</c> (<see cref="NetifFlags"/>).</summary>
    public ushort Flags;

    /// <summary><c>status</c>: the size received (&gt; 0) or a <c>NETIF_RSP_*</c> error (&lt; 0).</summary>
    public short Status;
}
