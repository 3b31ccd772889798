using System.Runtime.InteropServices;

namespace VirtualDevices.Interop;

internal static partial class Unix
{
    /// <summary><c>EFD_CLOEXEC</c> (Linux; the same value as <c>O_CLOEXEC</c>).</summary>
    internal const int EFD_CLOEXEC = 0x80000;

    /// <summary><c>EFD_NONBLOCK</c> (Linux; the same value as <c>O_NONBLOCK</c>).</summary>
    internal const int EFD_NONBLOCK = 0x800;

    /// <summary>Linux only (<c>eventfd(2)</c>): a counter descriptor, readable while non-zero; a cheap wake-up for poll.</summary>
    [LibraryImport(Libc, EntryPoint = "eventfd", SetLastError = true)]
    internal static partial SafeFileDescriptor EventFd(uint initialValue, int flags);
}
