using System.Runtime.CompilerServices;

namespace VirtualDevices.Interop;

internal static partial class Unix
{
    /// <summary>
    /// <c>struct epoll_event { uint32_t events; epoll_data_t data; }</c>, read and written in place in native memory.
    /// The kernel declares it packed on x86_64 (12 bytes, data at offset 4) and naturally aligned elsewhere (16 bytes,
    /// data at offset 8), so the layout is chosen per architecture rather than declared as a managed struct; the C
    /// header test checks both numbers.
    /// </summary>
    internal static class EpollEvent
    {
        /// <summary><c>sizeof(struct epoll_event)</c>.</summary>
        internal static readonly int Size = RuntimeInformation.ProcessArchitecture == Architecture.X64 ? 12 : 16;

        /// <summary><c>offsetof(struct epoll_event, data)</c>.</summary>
        internal static readonly int DataOffset = RuntimeInformation.ProcessArchitecture == Architecture.X64 ? 4 : 8;

        /// <summary>Writes an entry at <paramref name="entry"/>.</summary>
        internal static unsafe void Write(byte* entry, uint events, ulong data)
        {
            Unsafe.WriteUnaligned(entry, events);
            Unsafe.WriteUnaligned(entry + DataOffset, data);
        }

        /// <summary>The <c>events</c> field of the entry at <paramref name="entry"/>.</summary>
        internal static unsafe uint Events(byte* entry) => Unsafe.ReadUnaligned<uint>(entry);

        /// <summary>The <c>data.u64</c> field of the entry at <paramref name="entry"/>.</summary>
        internal static unsafe ulong Data(byte* entry) => Unsafe.ReadUnaligned<ulong>(entry + DataOffset);
    }

    /// <summary><c>EPOLLIN</c>.</summary>
    internal const uint EPOLLIN = 0x001;

    /// <summary><c>EPOLLOUT</c>.</summary>
    internal const uint EPOLLOUT = 0x004;

    /// <summary><c>EPOLLERR</c> (always reported, need not be asked for).</summary>
    internal const uint EPOLLERR = 0x008;

    /// <summary><c>EPOLLHUP</c> (always reported, need not be asked for).</summary>
    internal const uint EPOLLHUP = 0x010;

    /// <summary><c>EPOLLRDHUP</c>: the peer shut down its writing side.</summary>
    internal const uint EPOLLRDHUP = 0x2000;
}
