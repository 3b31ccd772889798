namespace VirtualDevices.Interop;

internal static partial class Unix
{
    /// <summary>
    /// Linux errno values met only on Linux-only devices (the Xen device nodes, eventfd), so they need no macOS
    /// variant; checked against <c>errno.h</c> by the Xen header test. The portable ones are in <see cref="Errno"/>.
    /// </summary>
    internal static class LinuxErrno
    {
        internal const int ESRCH = 3;
        internal const int ENOMEM = 12;
        internal const int EBUSY = 16;
        internal const int ENODEV = 19;
        internal const int EMFILE = 24;
        internal const int EFBIG = 27;
        internal const int ENOTCONN = 107;

        /// <summary>A TAP descriptor whose interface was deleted underneath it (<c>ip link del</c>).</summary>
        internal const int EBADFD = 77;

        /// <summary>A frame the TAP driver refuses as too long.</summary>
        internal const int EMSGSIZE = 90;

        /// <summary>An address an interface cannot take (a multicast MAC address).</summary>
        internal const int EADDRNOTAVAIL = 99;
    }
}
