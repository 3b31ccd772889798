using VirtualDevices.Interop;

namespace VirtualDevices.Xen;

/// <summary>Opening a Xen device node with a typed error that says why it is not there.</summary>
internal static class XenDeviceNode
{
    /// <summary>Opens <paramref name="path"/> read-write, close-on-exec (and non-blocking when asked).</summary>
    /// <param name="path">The node, such as <c>/dev/xen/evtchn</c>.</param>
    /// <param name="module">The Linux module that provides it, named in the error when it is missing.</param>
    /// <param name="nonBlocking">Open with O_NONBLOCK.</param>
    /// <exception cref="XenDeviceException">The node is missing, may not be opened, or the open failed.</exception>
    public static SafeFileDescriptor Open(string path, string module, bool nonBlocking = false)
    {
        int flags = Unix.OpenFlags.O_RDWR | Unix.OpenFlags.O_CLOEXEC | (nonBlocking ? Unix.OpenFlags.O_NONBLOCK : 0);
        SafeFileDescriptor fd = Unix.Open(path, flags, 0);
        if (!fd.IsInvalid)
        {
            return fd;
        }

        int errno = Marshal.GetLastPInvokeError();
        fd.Dispose();

        // ENOENT: no node (not a Xen domain, or no devtmpfs entry); ENODEV/ENXIO: a node with no driver behind it.
        if (errno == Unix.Errno.ENOENT || errno == Unix.Errno.ENODEV || errno == Unix.Errno.ENXIO)
        {
            throw new XenDeviceException(DeviceErrorIds.Xen.NotFound, path, errno,
                $"The Xen device '{path}' is not available: this is not a Xen domain, or the {module} module is not loaded");
        }

        if (errno == Unix.Errno.EACCES || errno == Unix.Errno.EPERM)
        {
            throw new XenDeviceException(DeviceErrorIds.Xen.AccessDenied, path, errno, $"The Xen device '{path}' may not be opened (it needs root)");
        }

        throw new XenDeviceException(DeviceErrorIds.Xen.OpenFailed, path, errno, $"The Xen device '{path}' could not be opened");
    }

    /// <summary>The size of the pages the grant devices map: the kernel's page, which is Xen's 4 KiB on x86.</summary>
    public static int PageSize => Environment.SystemPageSize;
}
