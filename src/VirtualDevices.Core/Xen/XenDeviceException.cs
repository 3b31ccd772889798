using VirtualDevices.Interop;

namespace VirtualDevices.Xen;

/// <summary>
/// A failure of a Xen device node (<c>/dev/xen/evtchn</c>, <c>gntalloc</c>, <c>gntdev</c>): the operation's id
/// (<see cref="DeviceErrorIds.Xen"/>) with the errno the kernel returned.
/// </summary>
public sealed class XenDeviceException : DeviceException
{
    /// <summary>Creates the error.</summary>
    /// <param name="errorId">One of <see cref="DeviceErrorIds.Xen"/>.</param>
    /// <param name="devicePath">The device node, such as <c>/dev/xen/evtchn</c>.</param>
    /// <param name="errno">The errno the kernel returned, or 0 when the failure is not an errno.</param>
    /// <param name="message">A sentence for the user (the errno's text is added to it).</param>
    public XenDeviceException(string errorId, string devicePath, int errno, string message)
        : base(errorId, CategoryOf(errno), errno == 0 ? message : $"{message}: {Unix.Errno.Describe(errno)}", devicePath)
    {
        DevicePath = devicePath;
        Errno = errno;
    }

    /// <summary>The device node concerned.</summary>
    public string DevicePath { get; }

    /// <summary>The errno the kernel returned, or 0.</summary>
    public int Errno { get; }

    /// <summary>The category a kernel or hypervisor errno means here (Xen's own errors reach user space as errnos).</summary>
    private static DeviceErrorCategory CategoryOf(int errno) => errno switch
    {
        Unix.Errno.ENOENT or Unix.Errno.ENXIO or Unix.Errno.ENODEV => DeviceErrorCategory.ObjectNotFound,
        Unix.Errno.EACCES or Unix.Errno.EPERM => DeviceErrorCategory.PermissionDenied,
        Unix.Errno.EINVAL or Unix.Errno.ESRCH => DeviceErrorCategory.InvalidArgument,
        Unix.Errno.ENOSPC or Unix.Errno.ENOMEM or Unix.Errno.EMFILE or Unix.Errno.EFBIG => DeviceErrorCategory.LimitsExceeded,
        Unix.Errno.EBUSY => DeviceErrorCategory.ResourceBusy,
        Unix.Errno.ENOTCONN => DeviceErrorCategory.InvalidOperation,
        _ => DeviceErrorCategory.NotSpecified,
    };
}
