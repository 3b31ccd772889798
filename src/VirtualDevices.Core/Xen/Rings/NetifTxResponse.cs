namespace VirtualDevices.Xen.Rings;

/// <summary><c>struct netif_tx_response</c> (<c>xen/io/netif.h</c>).</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct NetifTxResponse
{
    /// <summary><c>id</c>: the request's.</summary>
    public ushort Id;

    /// <summary><c>status</c>: <c>NETIF_RSP_*</c>.</summary>
    public short Status;
}
