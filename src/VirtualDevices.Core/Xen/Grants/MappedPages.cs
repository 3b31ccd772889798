using VirtualDevices.Interop;
using VirtualDevices.IO.Buffers;

namespace VirtualDevices.Xen.Grants;

/// <summary>
/// Pages of a grant device mapped into this process with <c>mmap</c> (<c>MAP_SHARED</c>: writes reach the other
/// domain), exposed as <see cref="Memory{T}"/>; disposing unmaps them.
/// </summary>
/// <remarks>
/// A span taken before disposal must not be used after it: the pages are gone (and a stray access faults). The owner
/// (<see cref="GrantShare"/>, <see cref="GrantMapping"/>) disposes this once its user is done.
/// </remarks>
internal sealed class MappedPages : NativePages
{
    private MappedPages(IntPtr address, int length)
        : base(address, length)
    {
    }

    /// <summary>True once unmapped.</summary>
    public bool IsDisposed => IsReleased;

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

    /// <summary>Unmaps the pages (once; later calls do nothing). The same as disposing.</summary>
    public void Unmap() => Release();

    /// <inheritdoc/>
    protected override void OnReleased(IntPtr address, int length) =>
        // munmap of a range this object mapped cannot fail in a way the caller could act on.
        _ = Unix.MUnmap(address, (nuint)length);
}
