using System.Buffers;
using System.Numerics;
using System.Runtime.CompilerServices;

namespace VirtualDevices.Xen.Rings;

/// <summary>
/// One end of a shared ring (<c>xen/io/ring.h</c>) over a page-aligned region of memory that the peer also maps: the
/// header and entries in that memory, this end's private indices, and the broken state. <see cref="FrontRing{TRequest, TResponse}"/>
/// and <see cref="BackRing{TRequest, TResponse}"/> are the two halves.
/// </summary>
/// <remarks>
/// <para>
/// The memory is anything page-aligned that both ends map: a <c>PageBuffer</c> of the page pool, a grant mapping
/// (<c>MappedPages</c>), an mmap of a memfd or of a file in <c>/dev/shm</c>. The ring does not own it: its owner keeps it
/// mapped for the ring's life. How the peer is told about new work is not the ring's business either: the push methods
/// say whether a notification is needed and the caller sends it (an event channel, an eventfd).
/// </para>
/// <para>
/// The peer is not trusted. It can write anything into the shared page at any time, so every index it owns is read
/// once into a private copy and validated before use (a producer index that goes backwards or runs past what it may
/// produce breaks the ring), and every entry is copied out of the shared page before it is looked at: nothing hands
/// out a reference into shared memory, so a value checked is the value used. The indices this end owns are kept
/// privately and only written to the page, never read back from it.
/// </para>
/// <para>
/// A half is used by one thread at a time (ring.h's callers hold a lock too); its two directions may be driven by
/// different threads only under the caller's lock.
/// </para>
/// </remarks>
/// <typeparam name="TRequest">The request type, laid out as its C struct.</typeparam>
/// <typeparam name="TResponse">The response type, laid out as its C struct.</typeparam>
internal abstract unsafe class SharedRing<TRequest, TResponse>
    where TRequest : unmanaged
    where TResponse : unmanaged
{
    private readonly byte* _address;
    private readonly byte* _entries;
    private readonly uint _mask;
    private readonly MemoryHandle _pin;
    private XenRingException? _broken;

    /// <summary>Attaches to the ring in <paramref name="length"/> bytes at <paramref name="address"/>.</summary>
    /// <param name="address">The first byte of the shared pages (page-aligned).</param>
    /// <param name="length">Their size: 2^order whole pages (xenbus's <c>ring-page-order</c>).</param>
    /// <param name="name">The ring's name in errors (protocol and role, such as <c>blkif front</c>).</param>
    /// <exception cref="ArgumentException">The region is not page-aligned, not 2^order pages, or too small for one entry.</exception>
    protected SharedRing(nint address, int length, string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        ValidateRegion(address, length);
        EntrySize = SharedRingLayout.EntrySize<TRequest, TResponse>();
        Size = SharedRingLayout.RingSize(length, EntrySize);
        if (Size == 0)
        {
            throw new ArgumentException($"An entry of {EntrySize} bytes does not fit a ring of {length} bytes.", nameof(length));
        }

        _address = (byte*)address;
        _entries = _address + SharedRingLayout.EntriesOffset;
        _mask = (uint)Size - 1;
        Length = length;
        Name = name;
    }

    /// <summary>
    /// Attaches to the ring in <paramref name="pages"/> (a page lease's or a grant mapping's memory: native, so the pin
    /// is free), pinned for the ring's life.
    /// </summary>
    protected SharedRing(Memory<byte> pages, string name)
        : this(PinAddress(pages, out MemoryHandle pin, out int length), length, name)
    {
        _pin = pin;
    }

    /// <summary>The ring's name in errors.</summary>
    public string Name { get; }

    /// <summary>The first byte of the shared pages.</summary>
    public nint Address => (nint)_address;

    /// <summary>The size of the shared pages in bytes.</summary>
    public int Length { get; }

    /// <summary>Entries in the ring (<c>RING_SIZE</c>): a power of two.</summary>
    public int Size { get; }

    /// <summary>Bytes per entry (the union of request and response).</summary>
    public int EntrySize { get; }

    /// <summary>True once the peer broke the protocol: every call then throws <see cref="BrokenReason"/>.</summary>
    public bool IsBroken => Volatile.Read(ref _broken) is not null;

    /// <summary>Why the ring is broken, or null.</summary>
    public XenRingException? BrokenReason => Volatile.Read(ref _broken);

    /// <summary>The shared <c>req_prod</c> (written by the front, read by the back).</summary>
    protected ref uint RequestProducer => ref *(uint*)(_address + SharedRingLayout.RequestProducerOffset);

    /// <summary>The shared <c>req_event</c> (written by the back, read by the front).</summary>
    protected ref uint RequestEvent => ref *(uint*)(_address + SharedRingLayout.RequestEventOffset);

    /// <summary>The shared <c>rsp_prod</c> (written by the back, read by the front).</summary>
    protected ref uint ResponseProducer => ref *(uint*)(_address + SharedRingLayout.ResponseProducerOffset);

    /// <summary>The shared <c>rsp_event</c> (written by the front, read by the back).</summary>
    protected ref uint ResponseEvent => ref *(uint*)(_address + SharedRingLayout.ResponseEventOffset);

    /// <summary>
    /// Marks the ring broken with <paramref name="message"/> (the first reason stays) and throws it. Also for the
    /// layers above that find a response the ring cannot judge (an id never issued).
    /// </summary>
    /// <exception cref="XenRingException">Always.</exception>
    [MethodImpl(MethodImplOptions.NoInlining)]
    public void Break(string message)
    {
        Interlocked.CompareExchange(ref _broken, new XenRingException(Name, message), null);
        throw _broken!;
    }

    /// <summary>Throws the reason the ring broke, if it did.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    protected void ThrowIfBroken()
    {
        if (Volatile.Read(ref _broken) is { } broken)
        {
            throw broken;
        }
    }

    /// <summary>
    /// <c>SHARED_RING_INIT</c>: both producers at 0, both events at 1, the private and pad bytes zeroed. The front does
    /// this before it advertises the ring; the back only attaches.
    /// </summary>
    protected void InitializeShared()
    {
        new Span<byte>(_address, SharedRingLayout.EntriesOffset).Clear();
        RequestEvent = 1;
        ResponseEvent = 1;
        Interlocked.MemoryBarrier(); // the header is whole before the ring is advertised (the caller's grant/xenstore write follows)
    }

    /// <summary>
    /// Copies the entry at <paramref name="index"/> (masked) out of the shared page, as <c>RING_COPY_REQUEST</c> does
    /// with its volatile read: the caller gets a private value, which the peer cannot change after it was checked.
    /// </summary>
    /// <remarks>
    /// <see cref="Unsafe.ReadUnaligned{T}(void*)"/> into a local is one read of the entry; the JIT does not introduce
    /// reads of memory (the .NET memory model forbids it), so the local is never re-read from the page later.
    /// </remarks>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    protected T ReadEntry<T>(uint index)
        where T : unmanaged => Unsafe.ReadUnaligned<T>(_entries + ((index & _mask) * (uint)EntrySize));

    /// <summary>Writes <paramref name="value"/> into the entry at <paramref name="index"/> (masked).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    protected void WriteEntry<T>(uint index, in T value)
        where T : unmanaged => Unsafe.WriteUnaligned(_entries + ((index & _mask) * (uint)EntrySize), value);

    /// <summary>"went backwards" or "ran past", for a producer index outside its window.</summary>
    protected static string Direction(uint producer, uint seen, string limit) => (int)(producer - seen) < 0 ? "went backwards" : $"ran past {limit}";

    private static nint PinAddress(Memory<byte> pages, out MemoryHandle pin, out int length)
    {
        length = pages.Length;
        pin = pages.Pin();
        try
        {
            ValidateRegion((nint)pin.Pointer, length);
        }
        catch
        {
            pin.Dispose(); // a managed array that is not a ring: do not leave it pinned
            throw;
        }

        return (nint)pin.Pointer;
    }

    private static void ValidateRegion(nint address, int length)
    {
        if (address == 0 || address % SharedRingLayout.PageSize != 0)
        {
            throw new ArgumentException($"A shared ring starts on a page boundary ({SharedRingLayout.PageSize} bytes); 0x{address:x} does not.", nameof(address));
        }

        if (length < SharedRingLayout.PageSize || length % SharedRingLayout.PageSize != 0 || !BitOperations.IsPow2(length / SharedRingLayout.PageSize))
        {
            throw new ArgumentException($"A shared ring is 2^order whole pages; {length} bytes is not.", nameof(length));
        }
    }
}
