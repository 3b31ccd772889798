using System.Buffers;

namespace VirtualDevices.IO.Buffers;

/// <summary>
/// One buffer of a <see cref="PageBufferPool"/>: a run of whole pages inside one of the pool's slabs. The object lives as
/// long as the pool and is handed out again and again; <see cref="Generation"/> tells the leases of one turn from the
/// stale ones of earlier turns.
/// </summary>
internal sealed unsafe class PageBuffer : MemoryManager<byte>
{
    private readonly byte* _address;

    /// <summary>Odd while rented, even while free; each rent and each return adds one.</summary>
    internal int Generation;

    /// <summary>Index of the next free buffer in the pool's free stack, or -1.</summary>
    internal int NextFree = -1;

    public PageBuffer(PageBufferPool pool, int index, byte* address, int length)
    {
        Pool = pool;
        Index = index;
        _address = address;
        Length = length;
    }

    public PageBufferPool Pool { get; }

    public int Index { get; }

    public int Length { get; }

    public nint Address => (nint)_address;

    public override Span<byte> GetSpan() => new(_address, Length);

    public override MemoryHandle Pin(int elementIndex = 0)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(elementIndex);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(elementIndex, Length);
        return new MemoryHandle(_address + elementIndex); // native memory never moves: nothing to pin
    }

    public override void Unpin()
    {
    }

    /// <summary>The pool frees the slabs; a buffer owns nothing of its own.</summary>
    protected override void Dispose(bool disposing)
    {
    }
}
