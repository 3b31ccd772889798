namespace VirtualDevices.Xen.Rings;

/// <summary>The flags, extra types and statuses of netif's rings (<c>xen/io/netif.h</c>).</summary>
internal static class NetifFlags
{
    /// <summary><c>NETTXF_csum_blank</c>: the protocol checksum field is blank.</summary>
    public const ushort TxChecksumBlank = 1 << 0;

    /// <summary><c>NETTXF_data_validated</c>: the packet's checksum was validated.</summary>
    public const ushort TxDataValidated = 1 << 1;

    /// <summary><c>NETTXF_more_data</c>: the packet continues in the next request.</summary>
    public const ushort TxMoreData = 1 << 2;

    /// <summary><c>NETTXF_extra_info</c>: a <see cref="NetifExtraInfo"/> follows.</summary>
    public const ushort TxExtraInfo = 1 << 3;

    /// <summary><c>NETRXF_data_validated</c>.</summary>
    public const ushort RxDataValidated = 1 << 0;

    /// <summary><c>NETRXF_csum_blank</c>.</summary>
    public const ushort RxChecksumBlank = 1 << 1;

    /// <summary><c>NETRXF_more_data</c>.</summary>
    public const ushort RxMoreData = 1 << 2;

    /// <summary><c>NETRXF_extra_info</c>.</summary>
    public const ushort RxExtraInfo = 1 << 3;

    /// <summary><c>NETRXF_gso_prefix</c>.</summary>
    public const ushort RxGsoPrefix = 1 << 4;

    /// <summary><c>XEN_NETIF_EXTRA_TYPE_GSO</c>.</summary>
    public const byte ExtraTypeGso = 1;

    /// <summary><c>XEN_NETIF_EXTRA_TYPE_MCAST_ADD</c>.</summary>
    public const byte ExtraTypeMulticastAdd = 2;

    /// <summary><c>XEN_NETIF_EXTRA_TYPE_MCAST_DEL</c>.</summary>
    public const byte ExtraTypeMulticastDelete = 3;

    /// <summary><c>XEN_NETIF_EXTRA_TYPE_HASH</c>.</summary>
    public const byte ExtraTypeHash = 4;

    /// <summary><c>XEN_NETIF_EXTRA_FLAG_MORE</c>.</summary>
    public const byte ExtraFlagMore = 1 << 0;

    /// <summary><c>XEN_NETIF_GSO_TYPE_TCPV4</c>.</summary>
    public const byte GsoTypeTcpV4 = 1;

    /// <summary><c>XEN_NETIF_GSO_TYPE_TCPV6</c>.</summary>
    public const byte GsoTypeTcpV6 = 2;

    /// <summary><c>NETIF_RSP_DROPPED</c>.</summary>
    public const short ResponseDropped = -2;

    /// <summary><c>NETIF_RSP_ERROR</c>.</summary>
    public const short ResponseError = -1;

    /// <summary><c>NETIF_RSP_OKAY</c>.</summary>
    public const short ResponseOkay = 0;

    /// <summary><c>NETIF_RSP_NULL</c>: a response slot with no request (after an extra).</summary>
    public const short ResponseNull = 1;
}
