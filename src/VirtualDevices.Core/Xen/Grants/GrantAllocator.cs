using VirtualDevices.Interop;

namespace VirtualDevices.Xen.Grants;

/// <summary>
/// Linux's grant allocation device (<c>/dev/xen/gntalloc</c>): pages of this domain granted to another domain, which
/// maps them by their grant references.
/// </summary>
/// <remarks>
/// The driver's protocol (drivers/xen/gntalloc.c): ALLOC_GREF allocates zeroed kernel pages, grants each to the domain
/// and returns the references with a file offset; <c>mmap</c> (shared) of that offset maps the pages here. A page is
/// freed only once every local use (this device's allocation, each mapping) has ended and the grantee no longer maps
/// it, so a page is never reused while the other domain can still reach it. The driver caps the pages granted by all
/// users together (its <c>limit</c> parameter, 1024 by default); beyond it an allocation fails with ENOSPC.
/// </remarks>
internal sealed class GrantAllocator : GrantDevice
{
    /// <summary>The node on a Xen domain with the xen-gntalloc module loaded.</summary>
    public const string DefaultPath = "/dev/xen/gntalloc";

    private GrantAllocator(SafeFileDescriptor fd, string path)
        : base(fd, path)
    {
    }

    /// <summary>Opens the device.</summary>
    /// <exception cref="XenDeviceException">The device is missing (<see cref="DeviceErrorIds.Xen.NotFound"/>), may not
    /// be opened, or the open failed.</exception>
    public static GrantAllocator Open(string path = DefaultPath) => new(XenDeviceNode.Open(path, "xen-gntalloc"), path);

    /// <summary>Allocates <paramref name="pageCount"/> zeroed pages, grants them to <paramref name="domainId"/> and maps them here.</summary>
    /// <param name="domainId">The domain given access.</param>
    /// <param name="pageCount">How many pages.</param>
    /// <param name="writable">Whether the grantee may write them (this domain always may).</param>
    /// <exception cref="XenDeviceException"><see cref="DeviceErrorIds.Xen.GrantShareFailed"/>: the grant or the mapping failed.</exception>
    public unsafe GrantShare Share(ushort domainId, int pageCount, bool writable)
    {
        int pageSize = XenDeviceNode.PageSize;
        ArgumentOutOfRangeException.ThrowIfLessThan(pageCount, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(pageCount, int.MaxValue / pageSize);

        // The struct ends in a variable array of references: a header of 16 bytes, then 4 bytes a page (24 at least,
        // the C struct's size). A ulong buffer keeps the 64-bit index aligned.
        int bytes = Math.Max(sizeof(Unix.GntallocAllocGref), (int)Marshal.OffsetOf<Unix.GntallocAllocGref>(nameof(Unix.GntallocAllocGref.FirstGrefId)) + (pageCount * sizeof(uint)));
        ulong[] buffer = new ulong[(bytes + 7) / 8];
        uint[] references = new uint[pageCount];
        ulong index;
        fixed (ulong* pointer = buffer)
        {
            var request = (Unix.GntallocAllocGref*)pointer;
            request->Domid = domainId;
            request->Flags = writable ? Unix.GntallocIoctl.GNTALLOC_FLAG_WRITABLE : (ushort)0;
            request->Count = (uint)pageCount;
            if (Unix.Ioctl(Descriptor, Unix.GntallocIoctl.IOCTL_GNTALLOC_ALLOC_GREF, request) < 0)
            {
                throw new XenDeviceException(DeviceErrorIds.Xen.GrantShareFailed, Path, Marshal.GetLastPInvokeError(),
                    $"Granting {pageCount} page(s) to domain {domainId} failed");
            }

            index = request->Index;
            new ReadOnlySpan<uint>(&request->FirstGrefId, pageCount).CopyTo(references);
        }

        MappedPages? pages = MappedPages.TryMap(Descriptor, index, pageCount * pageSize, writable: true, out int errno);
        if (pages is null)
        {
            Forget(index, pageCount);
            throw new XenDeviceException(DeviceErrorIds.Xen.GrantShareFailed, Path, errno, $"Mapping the {pageCount} page(s) granted to domain {domainId} failed");
        }

        return new GrantShare(this, domainId, writable, references, index, pages);
    }

    /// <summary>Gives up the device's part in pages from <paramref name="index"/>; each is freed once unmapped everywhere.</summary>
    internal override unsafe void Forget(ulong index, int pageCount)
    {
        var request = new Unix.GntallocDeallocGref { Index = index, Count = (uint)pageCount };

        // It fails only for an index this device did not return, which a share never passes; the pages are released
        // when the descriptor closes in any case.
        _ = Unix.Ioctl(Descriptor, Unix.GntallocIoctl.IOCTL_GNTALLOC_DEALLOC_GREF, &request);
    }

    /// <summary>Sets what happens when the last local use of the page holding <paramref name="index"/> ends.</summary>
    internal override void SetUnmapNotify(ulong index, uint action, uint port) =>
        SetUnmapNotify(Unix.GntallocIoctl.IOCTL_GNTALLOC_SET_UNMAP_NOTIFY, index, action, port, "Setting the unmap notification of a granted page failed");
}
