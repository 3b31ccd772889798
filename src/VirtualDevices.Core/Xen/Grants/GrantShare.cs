namespace VirtualDevices.Xen.Grants;

/// <summary>
/// Pages of this domain granted to another domain through <see cref="GrantAllocator"/>, and mapped here: the other
/// domain maps them by <see cref="GrantPages.References"/>; this domain reads and writes them through <see cref="GrantPages.Memory"/>.
/// </summary>
internal sealed class GrantShare : GrantPages
{
    internal GrantShare(GrantAllocator allocator, ushort domainId, bool writable, uint[] references, ulong index, MappedPages pages)
        : base(allocator, domainId, writable, references, index, pages)
    {
    }
}
