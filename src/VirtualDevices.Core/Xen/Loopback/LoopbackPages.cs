using VirtualDevices.Interop;
using VirtualDevices.IO.Buffers;

namespace VirtualDevices.Xen.Loopback;

/// <summary>
/// Pages mapped into this process as <see cref="Memory{T}"/>: a slice of this domain's arena (granted pages), or
/// another domain's arena pages mapped here (a map). Invalidating it makes later use an <see cref="ObjectDisposedException"/>;
/// a mapping of its own is unmapped then.
/// </summary>
internal sealed class LoopbackPages : NativePages
{
    private readonly bool _ownsMapping;

    public LoopbackPages(IntPtr address, int length, bool ownsMapping)
        : base(address, length)
    {
        _ownsMapping = ownsMapping;
    }

    public bool IsInvalid => IsReleased;

    /// <summary>
    /// Maps <paramref name="frames"/> of the arena <paramref name="arena"/> side by side: one mmap when they follow
    /// each other, else a reserved range with each page placed in it (MAP_FIXED inside our own reservation).
    /// </summary>
    /// <returns>The pages, or null with the errno.</returns>
    public static LoopbackPages? TryMap(SafeFileDescriptor arena, ReadOnlySpan<uint> frames, bool writable, out int errno)
    {
        int page = Environment.SystemPageSize;
        int length = frames.Length * page;
        int protection = Unix.PROT_READ | (writable ? Unix.PROT_WRITE : 0);
        bool contiguous = true;
        for (int i = 1; i < frames.Length && contiguous; i++)
        {
            contiguous = frames[i] == frames[0] + i;
        }

        if (contiguous)
        {
            IntPtr address = Unix.MMap(IntPtr.Zero, (nuint)length, protection, Unix.MAP_SHARED, arena, (long)frames[0] * page);
            errno = address == Unix.MAP_FAILED ? Marshal.GetLastPInvokeError() : 0;
            return address == Unix.MAP_FAILED ? null : new LoopbackPages(address, length, ownsMapping: true);
        }

        using var none = new SafeFileDescriptor(-1, ownsHandle: false);
        IntPtr reserved = Unix.MMap(IntPtr.Zero, (nuint)length, Unix.PROT_NONE, Unix.MAP_PRIVATE | Unix.MAP_ANONYMOUS, none, 0);
        if (reserved == Unix.MAP_FAILED)
        {
            errno = Marshal.GetLastPInvokeError();
            return null;
        }

        for (int i = 0; i < frames.Length; i++)
        {
            IntPtr at = reserved + (i * page);
            IntPtr placed = Unix.MMap(at, (nuint)page, protection, Unix.MAP_SHARED | Unix.MAP_FIXED, arena, (long)frames[i] * page);
            if (placed != at)
            {
                errno = placed == Unix.MAP_FAILED ? Marshal.GetLastPInvokeError() : Unix.Errno.EINVAL;
                _ = Unix.MUnmap(reserved, (nuint)length);
                return null;
            }
        }

        errno = 0;
        return new LoopbackPages(reserved, length, ownsMapping: true);
    }

    /// <summary>Ends the use (once): later use is an <see cref="ObjectDisposedException"/>; a mapping of its own is unmapped.</summary>
    public void Invalidate() => Dispose(true);

    /// <inheritdoc/>
    protected override void OnReleased(IntPtr address, int length)
    {
        if (_ownsMapping)
        {
            _ = Unix.MUnmap(address, (nuint)length);
        }
    }
}
