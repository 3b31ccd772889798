namespace VirtualDevices.Interop;

internal static partial class Unix
{
    /// <summary>
    /// The errno values the core branches on. Most agree between Linux and macOS; those that do not are chosen at
    /// start-up, and a few are met only on Linux-only devices. Linux values are checked against <c>errno.h</c> by the C header test.
    /// </summary>
    internal static class Errno
    {
        internal const int EPERM = 1;
        internal const int ENOENT = 2;
        internal const int EINTR = 4;
        internal const int EIO = 5;
        internal const int ENXIO = 6;
        internal const int EBADF = 9;
        internal const int EACCES = 13;
        internal const int EEXIST = 17;
        internal const int EISDIR = 21;
        internal const int EINVAL = 22;
        internal const int ENOTTY = 25;
        internal const int ENOSPC = 28;
        internal const int EROFS = 30;
        internal static readonly int EAGAIN = OperatingSystem.IsMacOS() ? 35 : 11;
        internal static readonly int ENOSYS = OperatingSystem.IsMacOS() ? 78 : 38;
        internal static readonly int EOPNOTSUPP = OperatingSystem.IsMacOS() ? 102 : 95;

        /// <summary>macOS has a distinct ENOTSUP (45); on Linux it equals EOPNOTSUPP.</summary>
        internal static readonly int ENOTSUP = OperatingSystem.IsMacOS() ? 45 : 95;

        // Linux values met only on Linux-only devices (the Xen device nodes, eventfd), so they need no macOS variant;
        // checked against errno.h by the Xen header test.
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

        /// <summary>True for the errors that mean "this file system or device cannot do that operation".</summary>
        internal static bool IsUnsupported(int errno) =>
            errno == EOPNOTSUPP || errno == ENOTSUP || errno == ENOSYS || errno == ENOTTY || errno == EINVAL;

        /// <summary>The OS's text for an errno, with its number.</summary>
        internal static string Describe(int errno) => $"{Marshal.GetPInvokeErrorMessage(errno)} (errno {errno})";
    }
}
