using System.Buffers;

namespace VirtualDevices.IO.Buffers;

/// <summary>
/// Pages of native memory mapped into this process (a grant device's mmap, a loopback arena's pages), exposed as
/// <see cref="Memory{T}"/>. Released once (disposing or <see cref="Release"/>); later use is an
/// <see cref="ObjectDisposedException"/>, never an access to memory that is gone. Mapped pages never move, so
/// pinning is free.
/// </summary>
/// <remarks>
/// A span taken before the release must not be used after it (the pages may be unmapped, and a stray access faults):
/// the owner releases only once its user is done.
/// </remarks>
internal abstract unsafe class NativePages : MemoryManager<byte>
{
    private readonly int _length;
    private IntPtr _address;

    /// <summary>Wraps <paramref name="length"/> bytes at <paramref name="address"/>.</summary>
    protected NativePages(IntPtr address, int length)
    {
        _address = address;
        _length = length;
    }

    /// <summary>The number of bytes (a whole number of pages).</summary>
    public int Length => _length;

    /// <summary>True once released.</summary>
    public bool IsReleased => Volatile.Read(ref _address) == IntPtr.Zero;

    /// <inheritdoc/>
    public override Span<byte> GetSpan() => new((void*)Address(), _length);

    /// <inheritdoc/>
    public override MemoryHandle Pin(int elementIndex = 0)
    {
        IntPtr address = Address();
        ArgumentOutOfRangeException.ThrowIfNegative(elementIndex);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(elementIndex, _length);
        return new MemoryHandle((byte*)address + elementIndex);
    }

    /// <inheritdoc/>
    public override void Unpin()
    {
    }

    /// <summary>Releases the pages (once; later calls do nothing). The same as disposing.</summary>
    public void Release() => Dispose(true);

    /// <summary>What releasing the pages means for this kind (unmapping them, or nothing when another owns the mapping); called once.</summary>
    /// <param name="address">The address the pages had.</param>
    /// <param name="length">Their length.</param>
    protected abstract void OnReleased(IntPtr address, int length);

    /// <inheritdoc/>
    protected sealed override void Dispose(bool disposing)
    {
        IntPtr address = Interlocked.Exchange(ref _address, IntPtr.Zero);
        if (address != IntPtr.Zero)
        {
            OnReleased(address, _length);
        }
    }

    private IntPtr Address()
    {
        IntPtr address = Volatile.Read(ref _address);
        ObjectDisposedException.ThrowIf(address == IntPtr.Zero, this);
        return address;
    }
}
