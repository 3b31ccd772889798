namespace VirtualDevices.Xen.Grants;

/// <summary>Pages another domain granted to this one, mapped here through <see cref="GrantMapper"/>.</summary>
internal sealed class GrantMapping : GrantPages, IMappedGrants
{
    internal GrantMapping(GrantMapper mapper, ushort domainId, bool writable, uint[] references, ulong index, MappedPages pages)
        : base(mapper, domainId, writable, references, index, pages)
    {
    }
}
