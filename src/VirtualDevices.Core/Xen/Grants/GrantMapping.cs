namespace VirtualDevices.Xen.Grants;

/// <summary>Pages another domain granted to this one, mapped here through <see cref="GrantMapper"/>.</summary>
internal sealed class GrantMapping : IDisposable
{
    private readonly GrantMapper _mapper;
    private readonly MappedPages _pages;
    private readonly uint[] _references;
    private int _disposed;

    internal GrantMapping(GrantMapper mapper, ushort domainId, bool writable, uint[] references, ulong index, MappedPages pages)
    {
        _mapper = mapper;
        _mapper.AddReference();
        DomainId = domainId;
        Writable = writable;
        _references = references;
        Index = index;
        _pages = pages;
    }

    /// <summary>The granting domain.</summary>
    public ushort DomainId { get; }

    /// <summary>Whether the pages are mapped read-write.</summary>
    public bool Writable { get; }

    /// <summary>The grant references mapped, in page order.</summary>
    public ReadOnlySpan<uint> References => _references;

    /// <summary>How many pages.</summary>
    public int PageCount => _references.Length;

    /// <summary>The device's file offset of the first page.</summary>
    public ulong Index { get; }

    /// <summary>The pages; read-only mappings fault on write. Not to be used after <see cref="Dispose"/>.</summary>
    public Memory<byte> Memory => _pages.Memory;

    /// <summary>
    /// Asks the kernel, when this mapping goes (disposed, or the process gone), to zero the byte at
    /// <paramref name="byteOffset"/> (writable mappings only) and/or send an event on <paramref name="eventPort"/>:
    /// how the granting domain learns that this end went away.
    /// </summary>
    /// <param name="byteOffset">A byte of the mapped pages.</param>
    /// <param name="clearByte">Zero that byte.</param>
    /// <param name="eventPort">A port bound in this domain (through <see cref="EventChannels.EventChannelDevice"/>) to notify, or null.</param>
    public void SetUnmapNotify(int byteOffset, bool clearByte, uint? eventPort)
    {
        ObjectDisposedException.ThrowIf(_disposed != 0, this);
        ArgumentOutOfRangeException.ThrowIfNegative(byteOffset);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(byteOffset, _pages.Length);
        uint action = (clearByte ? Interop.Unix.UnmapNotify.UNMAP_NOTIFY_CLEAR_BYTE : 0)
            | (eventPort is null ? 0 : Interop.Unix.UnmapNotify.UNMAP_NOTIFY_SEND_EVENT);
        _mapper.SetUnmapNotify(Index + (ulong)byteOffset, action, eventPort ?? 0);
    }

    /// <summary>Unmaps the pages and forgets the grants (the granting domain may then end them).</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        _pages.Unmap();
        _mapper.Unmap(Index, _references.Length);
        _mapper.Release();
    }
}
