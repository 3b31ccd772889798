using System.Buffers;
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

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
    /// <summary>
    /// One end's consumer side, the same in both halves (the front consumes responses, the back requests: ring.h's
    /// <c>RING_FINAL_CHECK_FOR_*</c> and <c>RING_HAS_UNCONSUMED_*</c> mirror each other): the private consumer index
    /// (<c>rsp_cons</c> or <c>req_cons</c>) and the last producer index read and validated.
    /// </summary>
    private protected struct ConsumerIndices
    {
        /// <summary>Entries consumed so far.</summary>
        public uint Consumer;

        /// <summary>The other end's producer index as last read and validated.</summary>
        public uint ProducerSeen;
    }

    // A constant for the JIT (a static readonly of a class specialised per struct pair): an entry's offset is then a
    // multiply by a constant, not by a field loaded on every access.
    private static readonly int s_entrySize = SharedRingLayout.EntrySize<TRequest, TResponse>();

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
    public int EntrySize => s_entrySize;

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
    /// Marks the ring broken with <paramref name="message"/> (the first reason stays) and returns the reason for the
    /// caller to throw (<c>throw ring.Break(...)</c>, as the xenstore ring transport does). Also for the layers above
    /// that find a response the ring cannot judge (an id never issued).
    /// </summary>
    /// <remarks>
    /// Returned, not thrown here: the throw then stands in the caller's own code, so the JIT knows nothing is live
    /// after it. A call it must assume returns kept a hot loop's index, mask and bounds on the stack across it:
    /// ring-echo's per-entry loops ran 6-9 stack loads and stores per entry more.
    /// </remarks>
    [MethodImpl(MethodImplOptions.NoInlining)]
    public XenRingException Break(string message)
    {
        Interlocked.CompareExchange(ref _broken, new XenRingException(Name, message), null);
        return _broken!;
    }

    /// <summary>Throws the reason the ring broke, if it did.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    protected void ThrowIfBroken()
    {
        // A plain read: the half is driven by one thread at a time, which is also the thread that breaks it (a caller
        // that breaks it from elsewhere holds the caller's lock, which orders it). A volatile read here was a barrier
        // the JIT does not move loads across: every entry access reloaded the ring's fields (ring-echo).
        if (_broken is { } broken)
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
        where T : unmanaged => Unsafe.ReadUnaligned<T>(_entries + ((index & _mask) * (uint)s_entrySize));

    /// <summary>Writes <paramref name="value"/> into the entry at <paramref name="index"/> (masked).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    protected void WriteEntry<T>(uint index, in T value)
        where T : unmanaged => Unsafe.WriteUnaligned(_entries + ((index & _mask) * (uint)s_entrySize), value);

    /// <summary>
    /// <c>RING_COPY_*</c> of the next entry the other end produced: copies it out, reading (and validating) the other
    /// end's producer index only when the entries seen so far are consumed.
    /// </summary>
    /// <param name="indices">This end's consumer side.</param>
    /// <param name="producer">The other end's shared producer index.</param>
    /// <param name="limit">The furthest that index may stand now (see <see cref="Refresh"/>).</param>
    /// <param name="entry">The entry, copied.</param>
    /// <returns>False when none is waiting.</returns>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private protected bool TryConsume<T>(ref ConsumerIndices indices, ref uint producer, uint limit, out T entry)
        where T : unmanaged
    {
        ThrowIfBroken();
        if (indices.Consumer == indices.ProducerSeen && !Refresh(ref indices, ref producer, limit))
        {
            entry = default;
            return false;
        }

        entry = ReadEntry<T>(indices.Consumer);
        indices.Consumer++;
        return true;
    }

    /// <summary>
    /// Copies up to <paramref name="into"/>'s length of the entries the other end produced out of the ring, reading (and
    /// validating) its producer index only when the entries seen so far are consumed: a batch's worth of
    /// <see cref="TryConsume{T}"/> with the checks made once.
    /// </summary>
    /// <returns>How many were copied (0 when none is waiting).</returns>
    /// <remarks>
    /// Why a batch: each per-entry call stores through a pointer into shared memory, after which the JIT reloads every
    /// field of the ring (it cannot tell the page from the object), so a per-entry loop ran about 3 times the
    /// instructions of ring.h's macros; ring-echo at 32 in flight measured 24-30 M round trips/s against C's 42-54 M with
    /// both sides spinning. Here the indices live in registers for the whole batch.
    /// </remarks>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private protected int ConsumeBatch<T>(ref ConsumerIndices indices, ref uint producer, uint limit, Span<T> into)
        where T : unmanaged
    {
        ThrowIfBroken();
        uint consumer = indices.Consumer;
        if (consumer == indices.ProducerSeen && !Refresh(ref indices, ref producer, limit))
        {
            return 0;
        }

        int count = (int)Math.Min((uint)into.Length, indices.ProducerSeen - consumer);
        ref T destination = ref MemoryMarshal.GetReference(into);
        byte* entries = _entries;
        uint mask = _mask;
        for (int i = 0; i < count; i++)
        {
            Unsafe.Add(ref destination, i) = Unsafe.ReadUnaligned<T>(entries + (((consumer + (uint)i) & mask) * (uint)s_entrySize));
        }

        indices.Consumer = consumer + (uint)count;
        return count;
    }

    /// <summary>
    /// <see cref="ConsumeBatch{T}"/> handing each entry, copied out, to <paramref name="sink"/> instead of a span: no
    /// staging copy, as ring.h's consumers take each <c>RING_COPY_*</c> into a local.
    /// </summary>
    /// <returns>How many were handed over (0 when none is waiting).</returns>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private protected int ConsumeBatch<T, TSink>(ref ConsumerIndices indices, ref uint producer, uint limit, int max, ref TSink sink)
        where T : unmanaged
        where TSink : struct, IRingEntrySink<T>
    {
        ThrowIfBroken();
        uint consumer = indices.Consumer;
        if (consumer == indices.ProducerSeen && !Refresh(ref indices, ref producer, limit))
        {
            return 0;
        }

        uint end = consumer + Math.Min((uint)Math.Max(max, 0), indices.ProducerSeen - consumer);
        byte* entries = _entries;
        uint mask = _mask;
        uint index = consumer;

        // The sink works on a local copy, which the JIT keeps in registers (through the reference every field would be
        // a load and a store per entry), and is written back however the loop ends.
        TSink local = sink;
        try
        {
            for (; index != end; index++)
            {
                T entry = Unsafe.ReadUnaligned<T>(entries + ((index & mask) * (uint)s_entrySize));

                // Consumed before it is handed over: a back's sink may answer it at once (ProduceResponse checks that
                // a consumed request waits), and one the sink throws on stays consumed.
                indices.Consumer = index + 1;
                local.Take(entry);
            }
        }
        finally
        {
            sink = local;
        }

        return (int)(end - consumer);
    }

    /// <summary>Writes <paramref name="count"/> entries that <paramref name="source"/> makes into the entries from <paramref name="index"/> on (masked).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private protected void WriteEntries<T, TSource>(uint index, int count, ref TSource source)
        where T : unmanaged
        where TSource : struct, IRingEntrySource<T>
    {
        byte* entries = _entries;
        uint mask = _mask;
        uint end = index + (uint)count;

        // A local copy of the source, in registers (see ConsumeBatch), written back when all were made.
        TSource local = source;
        for (; index != end; index++)
        {
            // Entries are aligned for T: the page is, and an entry's size (a union's) is a multiple of its alignment.
            local.Fill(ref Unsafe.AsRef<T>(entries + ((index & mask) * (uint)s_entrySize)));
        }

        source = local;
    }

    /// <summary>Writes <paramref name="values"/> into the entries from <paramref name="index"/> on (masked), in order.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private protected void WriteEntries<T>(uint index, ReadOnlySpan<T> values)
        where T : unmanaged
    {
        ref T source = ref MemoryMarshal.GetReference(values);
        byte* entries = _entries;
        uint mask = _mask;
        for (int i = 0; i < values.Length; i++)
        {
            Unsafe.WriteUnaligned(entries + (((index + (uint)i) & mask) * (uint)s_entrySize), Unsafe.Add(ref source, i));
        }
    }

    /// <summary><c>RING_HAS_UNCONSUMED_*</c> as a test: reads the producer only when the entries seen are consumed; asks for no notification.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private protected bool HasUnconsumed(ref ConsumerIndices indices, ref uint producer, uint limit)
    {
        ThrowIfBroken();
        return indices.Consumer != indices.ProducerSeen || Refresh(ref indices, ref producer, limit);
    }

    /// <summary><c>RING_HAS_UNCONSUMED_*</c> as a count: reads the producer once; asks for no notification.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private protected int Unconsumed(ref ConsumerIndices indices, ref uint producer, uint limit)
    {
        ThrowIfBroken();
        Refresh(ref indices, ref producer, limit);
        return (int)(indices.ProducerSeen - indices.Consumer);
    }

    /// <summary>
    /// <c>RING_FINAL_CHECK_FOR_*</c>: when nothing is waiting, asks the other end to notify at the next entry (this
    /// end's event index = consumer + 1) and checks again, so an entry pushed meanwhile is not slept through.
    /// </summary>
    /// <returns>True when entries are waiting; false: sleep until notified.</returns>
    private protected bool FinalCheck(ref ConsumerIndices indices, ref uint producer, ref uint eventIndex, uint limit)
    {
        ThrowIfBroken();
        if (indices.Consumer != indices.ProducerSeen || Refresh(ref indices, ref producer, limit))
        {
            return true;
        }

        Volatile.Write(ref eventIndex, indices.Consumer + 1);
        Interlocked.MemoryBarrier(); // xen_mb: the event index is visible before the producer is read again
        return Refresh(ref indices, ref producer, limit);
    }

    /// <summary>
    /// Reads the other end's producer index once and validates it: it may only move forward, and no further than
    /// <paramref name="limit"/> (the front's: the requests pushed, as a response to a request never published is a
    /// response to nothing, stricter than ring.h's <c>RING_RESPONSE_PROD_OVERFLOW</c>; the back's: a ring ahead of the
    /// responses produced, <c>RING_REQUEST_PROD_OVERFLOW</c>, since further entries still hold our responses).
    /// </summary>
    /// <returns>True when entries are waiting.</returns>
    /// <remarks>Inlined: the drivers' spin loops call it once per turn.</remarks>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private bool Refresh(ref ConsumerIndices indices, ref uint producerIndex, uint limit)
    {
        uint producer = Volatile.Read(ref producerIndex); // xen_rmb: entries are read after this (acquire)

        // The valid window is [what we saw last, limit], in RING_IDX's wrapping arithmetic: measured from the last value
        // seen, anything further than the window's end went backwards (it wrapped) or ran past.
        if (producer - indices.ProducerSeen > limit - indices.ProducerSeen)
        {
            throw BreakOnProducer(producer);
        }

        indices.ProducerSeen = producer;
        return producer != indices.Consumer;
    }

    /// <summary>Breaks the ring for a producer index outside its window, with the half's own account of it (out of line: cold); the caller throws what it returns.</summary>
    private protected abstract XenRingException BreakOnProducer(uint producer);

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
