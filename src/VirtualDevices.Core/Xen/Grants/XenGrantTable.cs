namespace VirtualDevices.Xen.Grants;

/// <summary>
/// The grant table on real Xen, through Linux's <c>/dev/xen/gntalloc</c> (grant pages) and <c>/dev/xen/gntdev</c>
/// (map a domain's grants), each opened on first use: a frontend in a guest needs only gntalloc, a backend in dom0
/// only gntdev.
/// </summary>
public sealed class XenGrantTable : IGrantTable
{
    private readonly Lazy<GrantAllocator> _allocator;
    private readonly Lazy<GrantMapper> _mapper;
    private int _disposed;

    /// <summary>Uses the grant devices at the given nodes.</summary>
    /// <param name="allocatorPath">The gntalloc node.</param>
    /// <param name="mapperPath">The gntdev node.</param>
    public XenGrantTable(string allocatorPath = GrantAllocator.DefaultPath, string mapperPath = GrantMapper.DefaultPath)
    {
        AllocatorPath = allocatorPath;
        MapperPath = mapperPath;
        _allocator = new(() => GrantAllocator.Open(allocatorPath), LazyThreadSafetyMode.ExecutionAndPublication);
        _mapper = new(() => GrantMapper.Open(mapperPath), LazyThreadSafetyMode.ExecutionAndPublication);
    }

    /// <summary>The gntalloc node.</summary>
    public string AllocatorPath { get; }

    /// <summary>The gntdev node.</summary>
    public string MapperPath { get; }

    /// <inheritdoc/>
    public int PageSize => XenDeviceNode.PageSize;

    /// <inheritdoc/>
    /// <exception cref="XenDeviceException">The device is missing or refused (<see cref="DeviceErrorIds.Xen.GrantShareFailed"/>).</exception>
    public IGrantedPages Grant(ushort domainId, int pageCount, GrantAccess access)
    {
        ObjectDisposedException.ThrowIf(_disposed != 0, this);
        return _allocator.Value.Share(domainId, pageCount, access == GrantAccess.ReadWrite);
    }

    /// <inheritdoc/>
    /// <exception cref="XenDeviceException">The device is missing or refused (<see cref="DeviceErrorIds.Xen.GrantMapFailed"/>).</exception>
    public IMappedGrants Map(ushort domainId, ReadOnlySpan<uint> references, GrantAccess access)
    {
        ObjectDisposedException.ThrowIf(_disposed != 0, this);
        return _mapper.Value.Map(domainId, references, access == GrantAccess.ReadWrite);
    }

    /// <summary>Through gntdev's IOCTL_GNTDEV_GRANT_COPY: Xen copies (GNTTABOP_copy), nothing is mapped.</summary>
    /// <inheritdoc/>
    /// <exception cref="ArgumentOutOfRangeException">The bytes do not lie within one page.</exception>
    /// <exception cref="XenDeviceException">The device or Xen refused the copy (<see cref="DeviceErrorIds.Xen.GrantCopyFailed"/>).</exception>
    public void CopyFromGrant(ushort domainId, uint reference, int offset, Span<byte> destination)
    {
        ObjectDisposedException.ThrowIf(_disposed != 0, this);
        _mapper.Value.Copy(domainId, reference, offset, destination, toGrant: false);
    }

    /// <summary>Through gntdev's IOCTL_GNTDEV_GRANT_COPY: Xen copies (GNTTABOP_copy), nothing is mapped.</summary>
    /// <inheritdoc/>
    /// <exception cref="ArgumentOutOfRangeException">The bytes do not lie within one page.</exception>
    /// <exception cref="XenDeviceException">The device or Xen refused the copy (<see cref="DeviceErrorIds.Xen.GrantCopyFailed"/>).</exception>
    public unsafe void CopyToGrant(ushort domainId, uint reference, int offset, ReadOnlySpan<byte> source)
    {
        ObjectDisposedException.ThrowIf(_disposed != 0, this);

        // The ioctl only reads a source buffer; the span is widened to the one Copy takes, never written.
        fixed (byte* pointer = source)
        {
            _mapper.Value.Copy(domainId, reference, offset, new Span<byte>(pointer, source.Length), toGrant: true);
        }
    }

    /// <summary>Closes the devices once every grant and mapping made through them has been disposed (each holds its device open).</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        if (_allocator.IsValueCreated)
        {
            _allocator.Value.Dispose();
        }

        if (_mapper.IsValueCreated)
        {
            _mapper.Value.Dispose();
        }
    }
}
