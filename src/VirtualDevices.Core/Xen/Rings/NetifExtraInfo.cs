namespace VirtualDevices.Xen.Rings;

/// <summary>
/// <c>struct netif_extra_info</c> (<c>xen/io/netif.h</c>): an extra slot after a tx request or rx response flagged
/// <c>EXTRA_INFO</c> (GSO, multicast filter, hash). It is 8 bytes, so it fits the entries of both rings.
/// </summary>
[StructLayout(LayoutKind.Explicit, Size = 8)]
internal unsafe struct NetifExtraInfo
{
    /// <summary><c>type</c>: <c>XEN_NETIF_EXTRA_TYPE_*</c>.</summary>
    [FieldOffset(0)]
    public byte Type;

    /// <summary><c>flags</c>: <c>XEN_NETIF_EXTRA_FLAG_MORE</c> when another extra follows.</summary>
    [FieldOffset(1)]
    public byte Flags;

    /// <summary><c>u.gso.size</c>: the maximum payload of a segment.</summary>
    [FieldOffset(2)]
    public ushort GsoSize;

    /// <summary><c>u.gso.type</c>: <c>XEN_NETIF_GSO_TYPE_*</c>.</summary>
    [FieldOffset(4)]
    public byte GsoType;

    /// <summary><c>u.gso.pad</c>.</summary>
    [FieldOffset(5)]
    public byte GsoPad;

    /// <summary><c>u.gso.features</c>.</summary>
    [FieldOffset(6)]
    public ushort GsoFeatures;

    /// <summary><c>u.mcast.addr</c>: a multicast MAC address.</summary>
    [FieldOffset(2)]
    public fixed byte MulticastAddress[6];

    /// <summary><c>u.hash.type</c>: <c>_XEN_NETIF_CTRL_HASH_TYPE_*</c>.</summary>
    [FieldOffset(2)]
    public byte HashType;

    /// <summary><c>u.hash.algorithm</c>.</summary>
    [FieldOffset(3)]
    public byte HashAlgorithm;

    /// <summary><c>u.hash.value</c>.</summary>
    [FieldOffset(4)]
    public fixed byte HashValue[4];
}
