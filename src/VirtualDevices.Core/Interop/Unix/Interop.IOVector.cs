namespace VirtualDevices.Interop;

internal static partial class Unix
{
    /// <summary><c>struct iovec</c>: one buffer of a scatter/gather syscall.</summary>
    internal unsafe struct IOVector
    {
        public byte* Base;
        public nuint Count;
    }

    /// <summary>The most buffers one vectored syscall takes (<c>IOV_MAX</c>, 1024 on Linux and macOS).</summary>
    internal const int IOV_MAX = 1024;
}
