using VirtualDevices.Interop;

namespace VirtualDevices;

/// <summary>
/// The one translation of the host's errno values into the module's errors, for the system calls on images and
/// devices (open, read, write, flush, trim...).
/// </summary>
/// <remarks>
/// The same shape as the protocol mappers (<c>Nbd.Protocol.NbdErrorMapper</c>, <c>Xen.Xenstore.XenstoreErrorMapper</c>);
/// errno has one direction only, since nothing in the module answers with an errno of the host (NBD's error values
/// are Linux's whatever the host, and are <c>NbdErrorMapper</c>'s).
/// </remarks>
internal static class ErrnoErrorMapper
{
    /// <summary>The error of an <c>open</c> of <paramref name="path"/> that failed with <paramref name="errno"/>.</summary>
    /// <param name="errno">The errno of the failed open.</param>
    /// <param name="path">The full path that was opened.</param>
    public static DeviceException ToOpenException(int errno, string path)
    {
        if (errno == Unix.Errno.ENOENT)
        {
            return new DeviceNotFoundException(path);
        }

        if (errno == Unix.Errno.EACCES || errno == Unix.Errno.EPERM || errno == Unix.Errno.EROFS)
        {
            return new DeviceException(DeviceErrorIds.Device.AccessDenied, DeviceErrorCategory.PermissionDenied,
                $"'{path}' cannot be opened: {Unix.Errno.Describe(errno)}. Open it read-only, or check its permissions.", path);
        }

        if (errno == Unix.Errno.EISDIR)
        {
            return new DeviceException(DeviceErrorIds.Device.NotBlockCapable, DeviceErrorCategory.InvalidArgument, $"'{path}' is a directory.", path);
        }

        return ToException(errno, path, "open");
    }

    /// <summary>The error of an operation on a device that failed with <paramref name="errno"/>.</summary>
    /// <param name="errno">The errno of the failed call.</param>
    /// <param name="deviceName">The device (or path) concerned.</param>
    /// <param name="operation">The operation, such as <c>read</c> or <c>flush</c>.</param>
    /// <param name="where">What the message says before the OS's text (<c>at byte 4096</c>), if anything.</param>
    public static BlockIOException ToException(int errno, string? deviceName, string operation, string? where = null) =>
        new(deviceName, operation, where is null ? Unix.Errno.Describe(errno) : $"{where}: {Unix.Errno.Describe(errno)}", errno);
}
