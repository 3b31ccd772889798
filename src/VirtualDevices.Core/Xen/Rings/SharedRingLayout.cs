using System.Numerics;
using System.Runtime.CompilerServices;

namespace VirtualDevices.Xen.Rings;

/// <summary>
/// The layout of a shared ring page as <c>xen/io/ring.h</c>'s <c>DEFINE_RING_TYPES</c> lays it out: a 64-byte header
/// (<c>req_prod</c>, <c>req_event</c>, <c>rsp_prod</c>, <c>rsp_event</c>, the 4-byte <c>pvt</c> union and 44 bytes of
/// <c>__pad</c>), then the entries, each the union of a request and a response.
/// </summary>
internal static class SharedRingLayout
{
    /// <summary>Xen's page (<c>XEN_PAGE_SHIFT</c> 12) on every architecture: ring pages are granted in these.</summary>
    public const int PageSize = 4096;

    /// <summary><c>offsetof(sring, req_prod)</c>.</summary>
    public const int RequestProducerOffset = 0;

    /// <summary><c>offsetof(sring, req_event)</c>.</summary>
    public const int RequestEventOffset = 4;

    /// <summary><c>offsetof(sring, rsp_prod)</c>.</summary>
    public const int ResponseProducerOffset = 8;

    /// <summary><c>offsetof(sring, rsp_event)</c>.</summary>
    public const int ResponseEventOffset = 12;

    /// <summary><c>offsetof(sring, pvt)</c>: 4 bytes (netif's <c>smartpoll_active</c>), zeroed by <c>SHARED_RING_INIT</c>.</summary>
    public const int PrivateOffset = 16;

    /// <summary><c>offsetof(sring, __pad)</c>: 44 bytes, zeroed by <c>SHARED_RING_INIT</c>.</summary>
    public const int PadOffset = 20;

    /// <summary><c>offsetof(sring, ring)</c>: the first entry. Every entry type of Xen's headers aligns to at most 8, so no padding precedes it.</summary>
    public const int EntriesOffset = 64;

    /// <summary>
    /// The size of one entry: <c>sizeof(union { req_t req; rsp_t rsp; })</c>, the larger of the two rounded up to the
    /// stricter alignment of the two (as C sizes a union).
    /// </summary>
    public static int EntrySize<TRequest, TResponse>()
        where TRequest : unmanaged
        where TResponse : unmanaged
    {
        int size = Math.Max(Unsafe.SizeOf<TRequest>(), Unsafe.SizeOf<TResponse>());
        int alignment = Math.Max(AlignmentOf<TRequest>(), AlignmentOf<TResponse>());
        return (size + alignment - 1) / alignment * alignment;
    }

    /// <summary>The alignment of <typeparamref name="T"/>: where it lands after one byte in a sequential struct.</summary>
    public static int AlignmentOf<T>()
        where T : unmanaged => Unsafe.SizeOf<Aligned<T>>() - Unsafe.SizeOf<T>();

    /// <summary>
    /// <c>__RING_SIZE</c>: how many entries of <paramref name="entrySize"/> bytes fit after the header in
    /// <paramref name="length"/> bytes, rounded down to a power of two (<c>__RD32</c>), so an index masks into the ring.
    /// </summary>
    /// <returns>The entry count, 0 when not even one fits.</returns>
    public static int RingSize(int length, int entrySize)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(entrySize, 1);
        int fit = (length - EntriesOffset) / entrySize;
        return fit <= 0 ? 0 : (int)BitOperations.RoundUpToPowerOf2((uint)fit + 1) >> 1;
    }

    /// <summary>The ring size for <paramref name="pageOrder"/> (xenbus's <c>ring-page-order</c>: 2^order pages).</summary>
    public static int RingSize<TRequest, TResponse>(int pageOrder = 0)
        where TRequest : unmanaged
        where TResponse : unmanaged
    {
        ArgumentOutOfRangeException.ThrowIfNegative(pageOrder);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(pageOrder, 16);
        return RingSize(PageSize << pageOrder, EntrySize<TRequest, TResponse>());
    }

    private struct Aligned<T>
        where T : unmanaged
    {
#pragma warning disable CS0649 // only measured, never read or written
        public byte Byte;
        public T Value;
#pragma warning restore CS0649
    }
}
