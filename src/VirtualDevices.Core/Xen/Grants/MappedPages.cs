using System.Buffers;
using VirtualDevices.Interop;

namespace VirtualDevices.Xen.Grants;

/// <summary>
/// Pages of a grant device mapped into this process with <c>mmap</c> (<c>MAP_SHARED</c>: writes reach the other
/// domain), exposed as <see cref="Memory{T}"/>; disposing unmaps them.
/// </summary>
/// <remarks>
/// A span taken before disposal must not be used after it: the pages are gone (and a stray access faults). The owner
/// (<see cref="GrantShare"/>, <see cref="GrantMapping"/>) disposes this once its user is done.
/// </remarks>
internal sealed unsafe class MappedPages : MemoryManager<byte>
{
    private readonly int _length;
    private IntPtr _address;

    private MappedPages(IntPtr address, int length)
    {
        _address = address;
        _length = length;
    }

    /// <summary>The number of bytes mapped (a whole number of pages).</summary>
    public int Length => _length;

    /// <summary>True once unmapped.</summary>
    public bool IsDisposed => Volatile.Read(ref _address) == IntPtr.Zero;

    /// <summary>Maps <paramref name="length"/> bytes at file offset <paramref name="offset"/> of a grant device.</summary>
    /// <returns>The mapping, or null with the errno when mmap failed.</returns>
    public static MappedPages? TryMap(SafeFileDescriptor fd, ulong offset, int length, bool writable, out int errno)
    {
        int protection = Unix.PROT_READ | (writable ? Unix.PROT_WRITE : 0);
        IntPtr address = Unix.MMap(IntPtr.Zero, (nuint)length, protection, Unix.MAP_SHARED, fd, (long)offset);
        if (address == Unix.MAP_FAILED)
        {
            errno = Marshal.GetLastPInvokeError();
            return null;
        }

        errno = 0;
        return new MappedPages(address, length);
    }

    /// <inheritdoc/>
    public override Span<byte> GetSpan()
    {
        IntPtr address = Volatile.Read(ref _address);
        ObjectDisposedException.ThrowIf(address == IntPtr.Zero, this);
        return new Span<byte>((void*)address, _length);
    }

    /// <inheritdoc/>
    public override MemoryHandle Pin(int elementIndex = 0)
    {
        IntPtr address = Volatile.Read(ref _address);
        ObjectDisposedException.ThrowIf(address == IntPtr.Zero, this);
        ArgumentOutOfRangeException.ThrowIfNegative(elementIndex);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(elementIndex, _length);

        // Mapped pages never move: nothing to pin.
        return new MemoryHandle((byte*)address + elementIndex);
    }

    /// <inheritdoc/>
    public override void Unpin()
    {
    }

    /// <summary>Unmaps the pages (once; later calls do nothing). The same as disposing.</summary>
    public void Unmap() => Dispose(true);

    /// <inheritdoc/>
    protected override void Dispose(bool disposing)
    {
        IntPtr address = Interlocked.Exchange(ref _address, IntPtr.Zero);
        if (address != IntPtr.Zero)
        {
            // munmap of a range this object mapped cannot fail in a way the caller could act on.
            _ = Unix.MUnmap(address, (nuint)_length);
        }
    }
}
