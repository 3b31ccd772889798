namespace VirtualDevices.Xen.Grants;

/// <summary>Whether the domain pages were granted to maps them now.</summary>
public enum GrantPeerUse
{
    /// <summary>No page of the grant is mapped by the other domain.</summary>
    NotMapped,

    /// <summary>The other domain maps at least one page of the grant.</summary>
    Mapped,

    /// <summary>
    /// The platform does not say: on real Xen, <c>/dev/xen/gntalloc</c> does not tell user space whether the
    /// grantee maps a page (the kernel keeps the page until it has let go, whatever this side does).
    /// </summary>
    Unknown,
}
