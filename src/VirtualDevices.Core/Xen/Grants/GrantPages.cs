namespace VirtualDevices.Xen.Grants;

/// <summary>
/// What a share (<see cref="GrantShare"/>) and a mapping (<see cref="GrantMapping"/>) share: granted pages mapped
/// here, their references, the unmap notification, and their lifetime (disposing unmaps the pages, ends the device's
/// part in the grants and lets go of the device).
/// </summary>
internal abstract class GrantPages : IDisposable
{
    private readonly GrantDevice _device;
    private readonly MappedPages _pages;
    private readonly uint[] _references;
    private int _disposed;

    private protected GrantPages(GrantDevice device, ushort domainId, bool writable, uint[] references, ulong index, MappedPages pages)
    {
        _device = device;
        _device.AddReference();
        DomainId = domainId;
        Writable = writable;
        _references = references;
        Index = index;
        _pages = pages;
    }

    /// <summary>The other domain: the one the pages are granted to (a share) or the granting one (a mapping).</summary>
    public ushort DomainId { get; }

    /// <summary>Whether the pages are writable: by the grantee (a share) or here (a mapping; read-only mappings fault on write).</summary>
    public bool Writable { get; }

    /// <summary>The access: <see cref="GrantAccess.ReadWrite"/> when <see cref="Writable"/>.</summary>
    public GrantAccess Access => Writable ? GrantAccess.ReadWrite : GrantAccess.ReadOnly;

    /// <summary>True once disposed.</summary>
    public bool IsDisposed => Volatile.Read(ref _disposed) != 0;

    /// <summary>The grant references, one a page, in page order.</summary>
    public ReadOnlySpan<uint> References => _references;

    /// <summary>How many pages.</summary>
    public int PageCount => _references.Length;

    /// <summary>The device's file offset of the first page (the notify offsets are relative to it).</summary>
    public ulong Index { get; }

    /// <summary>The pages, mapped here; not to be used after <see cref="Dispose"/>.</summary>
    public Memory<byte> Memory => _pages.Memory;

    /// <summary>
    /// Asks the kernel, once the last local use of the page holding <paramref name="byteOffset"/> ends (this object
    /// disposed, or the process gone), to zero that byte (writable pages only) and/or send an event on
    /// <paramref name="eventPort"/>: how the other domain learns that this end went away.
    /// </summary>
    /// <param name="byteOffset">A byte of the pages (its page is the one watched).</param>
    /// <param name="clearByte">Zero the byte at <paramref name="byteOffset"/>.</param>
    /// <param name="eventPort">A port bound in this domain (through <see cref="EventChannels.EventChannelDevice"/>) to notify, or null.</param>
    public void SetUnmapNotify(int byteOffset, bool clearByte, uint? eventPort)
    {
        ObjectDisposedException.ThrowIf(_disposed != 0, this);
        ArgumentOutOfRangeException.ThrowIfNegative(byteOffset);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(byteOffset, _pages.Length);
        uint action = (clearByte ? Interop.Unix.UnmapNotify.UNMAP_NOTIFY_CLEAR_BYTE : 0)
            | (eventPort is null ? 0 : Interop.Unix.UnmapNotify.UNMAP_NOTIFY_SEND_EVENT);
        _device.SetUnmapNotify(Index + (ulong)byteOffset, action, eventPort ?? 0);
    }

    /// <summary>
    /// Unmaps the pages here and ends this domain's part in the grants (once; later calls do nothing). The kernel ends
    /// a shared grant and frees its page only once the other domain has unmapped it too.
    /// </summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        _pages.Unmap();
        _device.Forget(Index, _references.Length);
        _device.Release();
        OnDisposed();
    }

    /// <summary>Called once, after the pages were unmapped and the device's part ended.</summary>
    private protected virtual void OnDisposed()
    {
    }
}
