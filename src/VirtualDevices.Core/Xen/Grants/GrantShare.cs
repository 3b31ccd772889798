namespace VirtualDevices.Xen.Grants;

/// <summary>
/// Pages of this domain granted to another domain through <see cref="GrantAllocator"/>, and mapped here: the other
/// domain maps them by <see cref="References"/>; this domain reads and writes them through <see cref="Memory"/>.
/// </summary>
internal sealed class GrantShare : IDisposable
{
    private readonly GrantAllocator _allocator;
    private readonly MappedPages _pages;
    private readonly uint[] _references;
    private int _disposed;

    internal GrantShare(GrantAllocator allocator, ushort domainId, bool writable, uint[] references, ulong index, MappedPages pages)
    {
        _allocator = allocator;
        _allocator.AddReference();
        DomainId = domainId;
        Writable = writable;
        _references = references;
        Index = index;
        _pages = pages;
    }

    /// <summary>The domain the pages are granted to.</summary>
    public ushort DomainId { get; }

    /// <summary>Whether the grantee may write the pages.</summary>
    public bool Writable { get; }

    /// <summary>The grant references, one a page, in page order.</summary>
    public ReadOnlySpan<uint> References => _references;

    /// <summary>How many pages.</summary>
    public int PageCount => _references.Length;

    /// <summary>The device's file offset of the first page (the notify offsets are relative to it).</summary>
    public ulong Index { get; }

    /// <summary>The pages, mapped here; not to be used after <see cref="Dispose"/>.</summary>
    public Memory<byte> Memory => _pages.Memory;

    /// <summary>
    /// Asks the kernel, once the last local use of the page holding <paramref name="byteOffset"/> ends (this share
    /// disposed, or the process gone), to zero that byte and/or send an event on <paramref name="eventPort"/>: how
    /// the other domain learns that this end went away.
    /// </summary>
    /// <param name="byteOffset">A byte of the shared pages (its page is the one watched).</param>
    /// <param name="clearByte">Zero the byte at <paramref name="byteOffset"/>.</param>
    /// <param name="eventPort">A port bound in this domain (through <see cref="EventChannels.EventChannelDevice"/>) to notify, or null.</param>
    public void SetUnmapNotify(int byteOffset, bool clearByte, uint? eventPort)
    {
        ObjectDisposedException.ThrowIf(_disposed != 0, this);
        ArgumentOutOfRangeException.ThrowIfNegative(byteOffset);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(byteOffset, _pages.Length);
        uint action = (clearByte ? Interop.Unix.UnmapNotify.UNMAP_NOTIFY_CLEAR_BYTE : 0)
            | (eventPort is null ? 0 : Interop.Unix.UnmapNotify.UNMAP_NOTIFY_SEND_EVENT);
        _allocator.SetUnmapNotify(Index + (ulong)byteOffset, action, eventPort ?? 0);
    }

    /// <summary>
    /// Unmaps the pages here and ends this domain's part in the grants. The kernel ends each grant and frees its page
    /// only once the other domain has unmapped it too.
    /// </summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        _pages.Unmap();
        _allocator.Deallocate(Index, _references.Length);
        _allocator.Release();
    }
}
