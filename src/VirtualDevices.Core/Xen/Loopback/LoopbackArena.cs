using VirtualDevices.Interop;

namespace VirtualDevices.Xen.Loopback;

/// <summary>
/// A domain's grant arena: a memfd of whole pages, mapped here once, from which granted pages are taken (runs of
/// consecutive frames, so that a grant of several pages is one span here) and to which they return once ended and
/// released by every domain that mapped them. The hypervisor passes the memfd to the domains that map a grant.
/// </summary>
/// <remarks>
/// Sparse until touched (a memfd is tmpfs): an arena of 1024 pages costs memory only for pages written. A page is
/// zeroed when it is granted, so a grant never shows what an earlier one held. The memfd is sealed against shrinking
/// and growing, so a page another domain maps can never vanish under it.
/// </remarks>
internal sealed unsafe class LoopbackArena : IDisposable
{
    private readonly object _gate = new();
    private readonly bool[] _used;
    private IntPtr _address;

    private LoopbackArena(SafeFileDescriptor memfd, IntPtr address, int pages)
    {
        Descriptor = memfd;
        _address = address;
        _used = new bool[pages];
        Pages = pages;
    }

    /// <summary>The memfd, sent to the hypervisor at join.</summary>
    public SafeFileDescriptor Descriptor { get; }

    /// <summary>The arena's pages.</summary>
    public int Pages { get; }

    /// <summary>Pages granted, or ended but still mapped by a peer.</summary>
    public int PagesInUse
    {
        get
        {
            lock (_gate)
            {
                return _used.Count(u => u);
            }
        }
    }

    /// <summary>Creates and maps an arena of <paramref name="pages"/> pages.</summary>
    /// <exception cref="DeviceException"><see cref="DeviceErrorIds.XenLoopback.SystemCallFailed"/>.</exception>
    public static LoopbackArena Create(int pages, string name)
    {
        int page = Environment.SystemPageSize;
        SafeFileDescriptor memfd = Unix.MemfdCreate(name, Unix.MFD_CLOEXEC | Unix.MFD_ALLOW_SEALING);
        if (memfd.IsInvalid)
        {
            int errno = Marshal.GetLastPInvokeError();
            memfd.Dispose();
            throw LoopbackErrors.SystemCall("memfd_create", errno);
        }

        if (Unix.FTruncate(memfd, (long)pages * page) != 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            memfd.Dispose();
            throw LoopbackErrors.SystemCall("ftruncate", errno);
        }

        // Its size is final: the hypervisor admits only arenas that cannot shrink under their mappers (SIGBUS).
        if (Unix.Fcntl(memfd, Unix.F_ADD_SEALS, Unix.F_SEAL_SHRINK | Unix.F_SEAL_GROW | Unix.F_SEAL_SEAL) != 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            memfd.Dispose();
            throw LoopbackErrors.SystemCall("fcntl(F_ADD_SEALS)", errno);
        }

        IntPtr address = Unix.MMap(IntPtr.Zero, (nuint)pages * (nuint)page, Unix.PROT_READ | Unix.PROT_WRITE, Unix.MAP_SHARED, memfd, 0);
        if (address == Unix.MAP_FAILED)
        {
            int errno = Marshal.GetLastPInvokeError();
            memfd.Dispose();
            throw LoopbackErrors.SystemCall("mmap", errno);
        }

        return new LoopbackArena(memfd, address, pages);
    }

    /// <summary>Takes <paramref name="count"/> consecutive free pages, zeroed; null when no run that long is free.</summary>
    public uint[]? TryAllocate(int count)
    {
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_address == IntPtr.Zero, this);
            int run = 0;
            for (int i = 0; i < _used.Length; i++)
            {
                run = _used[i] ? 0 : run + 1;
                if (run == count)
                {
                    int first = i - count + 1;
                    uint[] frames = new uint[count];
                    for (int j = 0; j < count; j++)
                    {
                        _used[first + j] = true;
                        frames[j] = (uint)(first + j);
                    }

                    new Span<byte>((byte*)PageAddress(frames[0]), count * Environment.SystemPageSize).Clear();
                    return frames;
                }
            }

            return null;
        }
    }

    /// <summary>Takes one page for good (the xenstore page the hypervisor placed in the arena): grants never get it.</summary>
    public void Reserve(uint frame)
    {
        lock (_gate)
        {
            _used[frame] = true;
        }
    }

    /// <summary>Gives pages back (once the grant ended and nobody maps them).</summary>
    public void Free(ReadOnlySpan<uint> frames)
    {
        lock (_gate)
        {
            foreach (uint frame in frames)
            {
                _used[frame] = false;
            }
        }
    }

    /// <summary>The address of <paramref name="frame"/> here.</summary>
    public IntPtr PageAddress(uint frame) => _address + (nint)((long)frame * Environment.SystemPageSize);

    /// <summary>Unmaps the arena here and closes its memfd; domains that map its pages keep them.</summary>
    public void Dispose()
    {
        IntPtr address;
        lock (_gate)
        {
            address = _address;
            _address = IntPtr.Zero;
        }

        if (address != IntPtr.Zero)
        {
            _ = Unix.MUnmap(address, (nuint)Pages * (nuint)Environment.SystemPageSize);
        }

        Descriptor.Dispose();
    }
}
