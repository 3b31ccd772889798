using VirtualDevices.Interop;

namespace VirtualDevices.Xen.Grants;

/// <summary>
/// Linux's grant mapping device (<c>/dev/xen/gntdev</c>): pages another domain granted to this one, mapped into this
/// process by their grant references.
/// </summary>
/// <remarks>
/// The driver's protocol (drivers/xen/gntdev.c): MAP_GRANT_REF records the references and returns a file offset;
/// <c>mmap</c> of exactly that offset and page count maps them (a writable mapping must be shared; a read-only one
/// maps the grants read-only). A bad reference or domain fails the ioctl or, where the hypercall runs at mmap (a PV
/// domain such as a classic dom0), the mmap. UNMAP_GRANT_REF forgets the offset; the grants are unmapped once the
/// mmap is gone too. The mmap must happen in the process that opened the device.
/// </remarks>
internal sealed class GrantMapper : GrantDevice
{
    /// <summary>The node on a Xen domain with the xen-gntdev module loaded.</summary>
    public const string DefaultPath = "/dev/xen/gntdev";

    private GrantMapper(SafeFileDescriptor fd, string path)
        : base(fd, path)
    {
    }

    /// <summary>Opens the device.</summary>
    /// <exception cref="XenDeviceException">The device is missing (<see cref="DeviceErrorIds.Xen.NotFound"/>), may not
    /// be opened, or the open failed.</exception>
    public static GrantMapper Open(string path = DefaultPath) => new(XenDeviceNode.Open(path, "xen-gntdev"), path);

    /// <summary>Maps pages <paramref name="domainId"/> granted to this domain, in the order of <paramref name="references"/>.</summary>
    /// <param name="domainId">The granting domain.</param>
    /// <param name="references">Its grant references, one a page.</param>
    /// <param name="writable">Map read-write (the grants must allow it) or read-only.</param>
    /// <exception cref="XenDeviceException"><see cref="DeviceErrorIds.Xen.GrantMapFailed"/>: a bad reference or domain, a
    /// read-only grant mapped writable, or too many grants mapped.</exception>
    public unsafe GrantMapping Map(ushort domainId, ReadOnlySpan<uint> references, bool writable)
    {
        int pageSize = XenDeviceNode.PageSize;
        int pageCount = references.Length;
        ArgumentOutOfRangeException.ThrowIfLessThan(pageCount, 1, nameof(references));
        ArgumentOutOfRangeException.ThrowIfGreaterThan(pageCount, int.MaxValue / pageSize, nameof(references));

        // A header of 16 bytes, then one { domid, ref } pair of 8 bytes a page (24 at least, the C struct's size).
        int offset = (int)Marshal.OffsetOf<Unix.GntdevMapGrantRef>(nameof(Unix.GntdevMapGrantRef.FirstRef));
        int bytes = Math.Max(sizeof(Unix.GntdevMapGrantRef), offset + (pageCount * sizeof(Unix.GntdevGrantRef)));
        ulong[] buffer = new ulong[(bytes + 7) / 8];
        ulong index;
        fixed (ulong* pointer = buffer)
        {
            var request = (Unix.GntdevMapGrantRef*)pointer;
            request->Count = (uint)pageCount;
            var refs = new Span<Unix.GntdevGrantRef>(&request->FirstRef, pageCount);
            for (int i = 0; i < pageCount; i++)
            {
                refs[i] = new Unix.GntdevGrantRef { Domid = domainId, Ref = references[i] };
            }

            if (Unix.Ioctl(Descriptor, Unix.GntdevIoctl.IOCTL_GNTDEV_MAP_GRANT_REF, request) < 0)
            {
                throw new XenDeviceException(DeviceErrorIds.Xen.GrantMapFailed, Path, Marshal.GetLastPInvokeError(),
                    $"Mapping {pageCount} grant(s) of domain {domainId} failed");
            }

            index = request->Index;
        }

        MappedPages? pages = MappedPages.TryMap(Descriptor, index, pageCount * pageSize, writable, out int errno);
        if (pages is null)
        {
            Forget(index, pageCount);
            throw new XenDeviceException(DeviceErrorIds.Xen.GrantMapFailed, Path, errno,
                $"Mapping {pageCount} grant(s) of domain {domainId} (first reference {references[0]}) failed");
        }

        return new GrantMapping(this, domainId, writable, references.ToArray(), index, pages);
    }

    /// <summary>Forgets the grants recorded at <paramref name="index"/>; they are unmapped once their mmap is gone.</summary>
    internal override unsafe void Forget(ulong index, int pageCount)
    {
        var request = new Unix.GntdevUnmapGrantRef { Index = index, Count = (uint)pageCount };

        // It fails only for an index this device did not return, which a mapping never passes; closing the
        // descriptor forgets every recorded grant in any case.
        _ = Unix.Ioctl(Descriptor, Unix.GntdevIoctl.IOCTL_GNTDEV_UNMAP_GRANT_REF, &request);
    }

    /// <summary>Sets what happens when the mapping holding <paramref name="index"/> goes.</summary>
    internal override void SetUnmapNotify(ulong index, uint action, uint port) =>
        SetUnmapNotify(Unix.GntdevIoctl.IOCTL_GNTDEV_SET_UNMAP_NOTIFY, index, action, port, "Setting the unmap notification of a mapped grant failed");
}
