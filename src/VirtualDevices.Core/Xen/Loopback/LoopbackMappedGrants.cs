using VirtualDevices.Xen.Grants;

namespace VirtualDevices.Xen.Loopback;

/// <summary>Another domain's grants mapped into a loopback domain: its arena's pages, mapped here side by side.</summary>
internal sealed class LoopbackMappedGrants : IMappedGrants
{
    private readonly LoopbackDomain _domain;
    private readonly LoopbackPages _pages;
    private int _disposed;

    public LoopbackMappedGrants(LoopbackDomain domain, ushort domainId, GrantAccess access, uint[] references, LoopbackPages pages)
    {
        _domain = domain;
        DomainId = domainId;
        Access = access;
        ReferenceArray = references;
        _pages = pages;
    }

    public ushort DomainId { get; }

    public GrantAccess Access { get; }

    public ReadOnlySpan<uint> References => ReferenceArray;

    public Memory<byte> Memory => _pages.Memory;

    internal uint[] ReferenceArray { get; }

    /// <summary>Unmaps the pages here, then tells the hypervisor (in that order: the granter may reuse them once told).</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        _pages.Invalidate();
        _domain.Unmapped(this);
    }

    /// <summary>This domain left the hypervisor: the pages are unmapped, and the hypervisor forgot them with the domain.</summary>
    internal void OnDomainGone()
    {
        Interlocked.Exchange(ref _disposed, 1);
        _pages.Invalidate();
    }
}
