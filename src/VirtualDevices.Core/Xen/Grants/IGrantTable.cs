namespace VirtualDevices.Xen.Grants;

/// <summary>
/// A domain's grant table as a split driver uses it: grant pages to another domain, map another domain's grants,
/// and copy to or from a grant without mapping it. The same on real Xen (<see cref="XenGrantTable"/>:
/// <c>/dev/xen/gntalloc</c> and <c>gntdev</c>) and on the loopback hypervisor (<c>Loopback.LoopbackDomain</c>:
/// memfd pages).
/// </summary>
/// <remarks>
/// The pages a grant covers are the platform's: the kernel's zeroed pages on real Xen (gntalloc allocates them; it
/// cannot grant memory user space already has), pages of the domain's shared-memory arena on the loopback
/// hypervisor. A driver keeps its granted pages for as long as it uses them (netfront's and blkfront's persistent
/// grants), rather than granting a page per request.
/// </remarks>
public interface IGrantTable : IDisposable
{
    /// <summary>The size of a granted page: 4096 bytes on x86.</summary>
    int PageSize { get; }

    /// <summary>Grants <paramref name="pageCount"/> zeroed pages to <paramref name="domainId"/>.</summary>
    /// <param name="domainId">The domain given access.</param>
    /// <param name="pageCount">How many pages (each gets its own reference).</param>
    /// <param name="access">What the other domain may do with them.</param>
    /// <exception cref="DeviceException">The grant was refused: no room (<see cref="DeviceErrorCategory.LimitsExceeded"/>), or the platform failed.</exception>
    IGrantedPages Grant(ushort domainId, int pageCount, GrantAccess access);

    /// <summary>Maps pages <paramref name="domainId"/> granted to this domain, in the order of <paramref name="references"/>.</summary>
    /// <param name="domainId">The granting domain.</param>
    /// <param name="references">Its grant references, one a page.</param>
    /// <param name="access">Map read-only, or read-write (the grants must allow it).</param>
    /// <exception cref="DeviceException">A reference that was not granted to this domain, a read-only grant mapped
    /// writable, a grant being ended, or no room.</exception>
    IMappedGrants Map(ushort domainId, ReadOnlySpan<uint> references, GrantAccess access);

    /// <summary>As <see cref="Map(ushort, ReadOnlySpan{uint}, GrantAccess)"/>, the references as an array (for PowerShell, which cannot pass a span).</summary>
    /// <param name="domainId">The granting domain.</param>
    /// <param name="references">Its grant references, one a page.</param>
    /// <param name="access">How to map them.</param>
    IMappedGrants Map(ushort domainId, uint[] references, GrantAccess access)
    {
        ArgumentNullException.ThrowIfNull(references);
        return Map(domainId, new ReadOnlySpan<uint>(references), access);
    }

    /// <summary>Copies bytes out of a page <paramref name="domainId"/> granted to this domain (Xen's GNTTABOP_copy from a grant).</summary>
    /// <param name="domainId">The granting domain.</param>
    /// <param name="reference">The grant.</param>
    /// <param name="offset">Where in the page to start.</param>
    /// <param name="destination">Receives the bytes; offset plus length stays within the page.</param>
    /// <exception cref="DeviceUnimplementedException">The platform has no grant copy here.</exception>
    void CopyFromGrant(ushort domainId, uint reference, int offset, Span<byte> destination);

    /// <summary>Copies bytes into a page <paramref name="domainId"/> granted writable to this domain.</summary>
    /// <param name="domainId">The granting domain.</param>
    /// <param name="reference">The grant.</param>
    /// <param name="offset">Where in the page to start.</param>
    /// <param name="source">The bytes; offset plus length stays within the page.</param>
    /// <exception cref="DeviceUnimplementedException">The platform has no grant copy here.</exception>
    void CopyToGrant(ushort domainId, uint reference, int offset, ReadOnlySpan<byte> source);
}
