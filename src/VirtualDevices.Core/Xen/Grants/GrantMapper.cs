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

    /// <summary>
    /// Copies between a local buffer and a part of one foreign grant (gntdev's GRANT_COPY: Xen copies, nothing is
    /// mapped). The part must lie within the grant's page.
    /// </summary>
    /// <param name="domainId">The domain that granted the page.</param>
    /// <param name="reference">Its grant reference.</param>
    /// <param name="offset">Where in the granted page the part starts.</param>
    /// <param name="local">The local buffer (its length is the part's).</param>
    /// <param name="toGrant">True to copy the buffer into the grant, false to copy the grant into the buffer.</param>
    /// <exception cref="ArgumentOutOfRangeException">The part does not lie within one page.</exception>
    /// <exception cref="XenDeviceException">The device or Xen refused the copy (<see cref="DeviceErrorIds.Xen.GrantCopyFailed"/>).</exception>
    public unsafe void Copy(ushort domainId, uint reference, int offset, Span<byte> local, bool toGrant)
    {
        int pageSize = XenDeviceNode.PageSize;
        ArgumentOutOfRangeException.ThrowIfNegative(offset);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(offset, pageSize, nameof(offset));
        ArgumentOutOfRangeException.ThrowIfGreaterThan(local.Length, pageSize - offset, nameof(local));
        if (local.IsEmpty)
        {
            return;
        }

        fixed (byte* buffer = local)
        {
            var segment = new Unix.GntdevGrantCopySegment { Len = (ushort)local.Length };
            if (toGrant)
            {
                segment.SourceVirt = buffer;
                segment.DestRef = reference;
                segment.DestOffset = (ushort)offset;
                segment.DestDomid = domainId;
                segment.Flags = Unix.GntCopy.GNTCOPY_dest_gref;
            }
            else
            {
                segment.DestVirt = buffer;
                segment.SourceRef = reference;
                segment.SourceOffset = (ushort)offset;
                segment.SourceDomid = domainId;
                segment.Flags = Unix.GntCopy.GNTCOPY_source_gref;
            }

            var copy = new Unix.GntdevGrantCopy { Count = 1, Segments = &segment };
            string what = toGrant
                ? $"Copying {local.Length} bytes into grant {reference} of domain {domainId} at offset {offset}"
                : $"Copying {local.Length} bytes from grant {reference} of domain {domainId} at offset {offset}";
            if (Unix.Ioctl(Descriptor, Unix.GntdevIoctl.IOCTL_GNTDEV_GRANT_COPY, &copy) < 0)
            {
                throw new XenDeviceException(DeviceErrorIds.Xen.GrantCopyFailed, Path, Marshal.GetLastPInvokeError(), $"{what} failed");
            }

            // The ioctl succeeds when it could ask Xen; each segment's status is Xen's answer.
            if (segment.Status != Unix.GntCopy.GNTST_okay)
            {
                throw new XenDeviceException(DeviceErrorIds.Xen.GrantCopyFailed, Path, 0, $"{what} failed: Xen answered GNTST {segment.Status} ({GrantStatus(segment.Status)})");
            }
        }
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

    /// <summary>Xen's name of a GNTST_* status (<c>xen/grant_table.h</c>).</summary>
    private static string GrantStatus(short status) => status switch
    {
        -1 => "general error",
        -2 => "bad domain",
        -3 => "bad grant reference",
        -4 => "bad handle",
        -5 => "bad virtual address",
        -6 => "bad device address",
        -7 => "no device space",
        -8 => "permission denied",
        -9 => "bad page",
        -10 => "copy arguments cross a page boundary",
        -11 => "address too big",
        -12 => "try again",
        -13 => "no space",
        _ => "unknown",
    };
}
