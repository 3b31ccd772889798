namespace VirtualDevices.IO.Buffers;

/// <summary>
/// A bounded pool of page-aligned native buffers, for I/O that needs whole pages: frames a Xen grant will share (a
/// grant covers exactly one 4096-byte page), ring slots, block requests handed to the kernel.
/// </summary>
/// <remarks>
/// <para>Every buffer of one pool has the same size, a whole number of pages (<see cref="PagesPerBuffer"/>): one page
/// for a 1500-byte MTU frame (1518 bytes with its header and a VLAN tag), three for a 9000-byte jumbo frame. The pages
/// of a buffer are contiguous and each is aligned, so a jumbo frame can be granted page by page, as Linux netfront
/// chains the pages of a large frame (<c>NETRXF_more_data</c>). Use one pool per buffer size.</para>
/// <para>Bounded: memory is taken from the system in slabs of about 256 KiB as buffers are first needed, up to
/// <see cref="MaxBuffers"/>, and never beyond. When every buffer is out, <see cref="TryRent"/> returns false and
/// <see cref="Rent"/> throws (<c>BufferPoolExhausted</c>); both count the failure in <see cref="Exhaustions"/>.
/// The pool never grows past its bound to hide a leak or a slow consumer: the caller drops and counts.</para>
/// <para>Thread-safe and allocation-free once warm: free buffers sit on a lock-free stack (a Treiber stack of indices
/// with a 32-bit tag against ABA), last returned first rented, so a hot buffer is reused while it is still in cache.
/// The lock is taken only to add a slab.</para>
/// <para>Disposing the pool refuses later rents; the memory is freed when the last outstanding lease comes back
/// (so a consumer still holding a frame never reads freed memory).</para>
/// </remarks>
public sealed unsafe class PageBufferPool : IDisposable
{
    /// <summary>The page size the buffers are made of and aligned on.</summary>
    public const int PageSize = 4096;

    /// <summary>Memory taken from the system at a time: 64 single-page buffers, few enough system calls, little waste.</summary>
    private const int SlabBytes = 256 * 1024;

    private readonly PageBuffer?[] _buffers;
    private readonly List<nint> _slabs = [];
    private readonly object _growLock = new();

    /// <summary>(tag &lt;&lt; 32) | (index of the top free buffer + 1); 0 in the low half when empty.</summary>
    private long _freeHead;
    private int _allocated;
    private int _inUse;
    private long _exhaustions;
    private int _disposed;
    private int _freed;

    /// <summary>Creates an empty pool; nothing is allocated until the first rent.</summary>
    /// <param name="maxBuffers">The most buffers that can be out at once.</param>
    /// <param name="pagesPerBuffer">The size of every buffer, in pages.</param>
    public PageBufferPool(int maxBuffers, int pagesPerBuffer = 1)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxBuffers, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(pagesPerBuffer, 1);
        // 16 pages (64 KiB) covers the largest Ethernet frame (65535 + headers); larger buffers belong to another tool.
        ArgumentOutOfRangeException.ThrowIfGreaterThan(pagesPerBuffer, 16);
        ArgumentOutOfRangeException.ThrowIfGreaterThan((long)maxBuffers * pagesPerBuffer, int.MaxValue / PageSize, nameof(maxBuffers));
        MaxBuffers = maxBuffers;
        PagesPerBuffer = pagesPerBuffer;
        BufferSize = pagesPerBuffer * PageSize;
        _buffers = new PageBuffer?[maxBuffers];
    }

    /// <summary>Frees the memory if the pool was never disposed and nothing can reach it any more.</summary>
    ~PageBufferPool() => Free();

    /// <summary>The pages needed to hold <paramref name="bytes"/> bytes.</summary>
    /// <param name="bytes">A size in bytes, at least 1.</param>
    public static int PagesFor(int bytes)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(bytes, 1);
        return (int)(((long)bytes + PageSize - 1) / PageSize);
    }

    /// <summary>The most buffers that can be out at once.</summary>
    public int MaxBuffers { get; }

    /// <summary>Pages per buffer.</summary>
    public int PagesPerBuffer { get; }

    /// <summary>Bytes per buffer.</summary>
    public int BufferSize { get; }

    /// <summary>Buffers taken from the system so far (at most <see cref="MaxBuffers"/>).</summary>
    public int AllocatedBuffers => Volatile.Read(ref _allocated);

    /// <summary>Buffers leased now.</summary>
    public int InUse => Volatile.Read(ref _inUse);

    /// <summary>Rents refused because every buffer was out.</summary>
    public long Exhaustions => Interlocked.Read(ref _exhaustions);

    /// <summary>Leases a buffer, or returns false (and counts an exhaustion) when all <see cref="MaxBuffers"/> are out.</summary>
    /// <param name="lease">The lease, to be disposed when done; <c>default</c> on failure.</param>
    /// <exception cref="ObjectDisposedException">The pool has been disposed.</exception>
    public bool TryRent(out PageLease lease)
    {
        Interlocked.Increment(ref _inUse);
        if (Volatile.Read(ref _disposed) != 0)
        {
            Released();
            throw new ObjectDisposedException(nameof(PageBufferPool));
        }

        PageBuffer? buffer = Pop() ?? Grow();
        if (buffer is null)
        {
            Released();
            Interlocked.Increment(ref _exhaustions);
            lease = default;
            return false;
        }

        lease = new PageLease(buffer, Interlocked.Increment(ref buffer.Generation));
        return true;
    }

    /// <summary>Leases a buffer.</summary>
    /// <exception cref="DeviceException"><c>BufferPoolExhausted</c>: all <see cref="MaxBuffers"/> buffers are out.</exception>
    /// <exception cref="ObjectDisposedException">The pool has been disposed.</exception>
    public PageLease Rent() => TryRent(out PageLease lease)
        ? lease
        : throw new DeviceException(DeviceErrorIds.Device.BufferPoolExhausted, DeviceErrorCategory.LimitsExceeded,
            $"All {MaxBuffers} buffers of {BufferSize} bytes of the page pool are in use.");

    /// <summary>Refuses later rents; the memory is freed once every lease has come back.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0 && Volatile.Read(ref _inUse) == 0)
        {
            Free();
        }
    }

    internal void Return(PageBuffer buffer, int generation)
    {
        if (Interlocked.CompareExchange(ref buffer.Generation, generation + 1, generation) != generation)
        {
            throw new InvalidOperationException("This page lease was already returned to its pool.");
        }

        Push(buffer);
        Released();
    }

    private void Released()
    {
        if (Interlocked.Decrement(ref _inUse) == 0 && Volatile.Read(ref _disposed) != 0)
        {
            Free();
        }
    }

    private PageBuffer? Pop()
    {
        while (true)
        {
            long head = Volatile.Read(ref _freeHead);
            int index = (int)(uint)head - 1;
            if (index < 0)
            {
                return null;
            }

            PageBuffer buffer = _buffers[index]!;
            int next = Volatile.Read(ref buffer.NextFree);
            long replacement = (((head >>> 32) + 1) << 32) | (uint)(next + 1);
            if (Interlocked.CompareExchange(ref _freeHead, replacement, head) == head)
            {
                return buffer;
            }
        }
    }

    private void Push(PageBuffer buffer)
    {
        while (true)
        {
            long head = Volatile.Read(ref _freeHead);
            Volatile.Write(ref buffer.NextFree, (int)(uint)head - 1);
            long replacement = (((head >>> 32) + 1) << 32) | (uint)(buffer.Index + 1);
            if (Interlocked.CompareExchange(ref _freeHead, replacement, head) == head)
            {
                return;
            }
        }
    }

    private PageBuffer? Grow()
    {
        lock (_growLock)
        {
            // Another thread may have added a slab, or returned a buffer, while this one waited.
            if (Pop() is { } returned)
            {
                return returned;
            }

            int allocated = _allocated;
            if (allocated >= MaxBuffers || Volatile.Read(ref _freed) != 0)
            {
                return null;
            }

            int count = Math.Min(Math.Max(1, SlabBytes / BufferSize), MaxBuffers - allocated);
            nuint bytes = (nuint)count * (nuint)BufferSize;
            byte* slab = (byte*)NativeMemory.AlignedAlloc(bytes, PageSize);
            // Zeroed once, so that a page shared with another domain never shows memory of another process's past.
            NativeMemory.Clear(slab, bytes);
            _slabs.Add((nint)slab);
            for (int i = 0; i < count; i++)
            {
                _buffers[allocated + i] = new PageBuffer(this, allocated + i, slab + ((nint)i * BufferSize), BufferSize);
            }

            Volatile.Write(ref _allocated, allocated + count);
            for (int i = count - 1; i >= 1; i--)
            {
                Push(_buffers[allocated + i]!);
            }

            return _buffers[allocated];
        }
    }

    private void Free()
    {
        if (Interlocked.Exchange(ref _freed, 1) != 0)
        {
            return;
        }

        lock (_growLock)
        {
            foreach (nint slab in _slabs)
            {
                NativeMemory.AlignedFree((void*)slab);
            }

            _slabs.Clear();
        }

        GC.SuppressFinalize(this);
    }
}
