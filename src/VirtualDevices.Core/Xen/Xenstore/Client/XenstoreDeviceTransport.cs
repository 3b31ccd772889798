using System.Runtime.InteropServices;
using VirtualDevices.Interop;

namespace VirtualDevices.Xen.Xenstore;

/// <summary>
/// The xenbus character device of a Xen guest (<c>/dev/xen/xenbus</c>): the same wire format as the socket, carried
/// by <c>read(2)</c>/<c>write(2)</c> on a descriptor. Any connected stream descriptor works the same way, which is how
/// the tests exercise this path without Xen.
/// </summary>
internal sealed class XenstoreDeviceTransport : XenstoreTransport
{
    private readonly SafeFileDescriptor _fd;
    private int _disposed;

    internal XenstoreDeviceTransport(SafeFileDescriptor fd, string description)
    {
        _fd = fd;
        Description = description;
    }

    internal override string Description { get; }

    /// <summary>Opens the device read-write.</summary>
    /// <exception cref="DeviceException">ConnectionError when the device cannot be opened (not a Xen guest, no permission).</exception>
    internal static XenstoreDeviceTransport Open(string path)
    {
        SafeFileDescriptor fd = Unix.Open(path, Unix.OpenFlags.O_RDWR | Unix.OpenFlags.O_CLOEXEC, 0);
        if (fd.IsInvalid)
        {
            int errno = Marshal.GetLastPInvokeError();
            fd.Dispose();
            throw new DeviceException("XenstoreConnectFailed", DeviceErrorCategory.ConnectionError,
                $"Cannot open the xenbus device {path}: {Unix.Errno.Describe(errno)}", XenstoreException.XenstoreDeviceName);
        }

        return new XenstoreDeviceTransport(fd, path);
    }

    internal override unsafe int Receive(Span<byte> buffer)
    {
        fixed (byte* pointer = buffer)
        {
            while (true)
            {
                nint read = Unix.Read(_fd, pointer, (nuint)buffer.Length);
                if (read >= 0)
                {
                    return (int)read;
                }

                int errno = Marshal.GetLastPInvokeError();
                if (errno != Unix.Errno.EINTR)
                {
                    throw new IOException($"read from {Description} failed: {Unix.Errno.Describe(errno)}");
                }
            }
        }
    }

    internal override unsafe void Send(ReadOnlySpan<byte> message)
    {
        fixed (byte* pointer = message)
        {
            int sent = 0;
            while (sent < message.Length)
            {
                nint written = Unix.Write(_fd, pointer + sent, (nuint)(message.Length - sent));
                if (written >= 0)
                {
                    sent += (int)written;
                    continue;
                }

                int errno = Marshal.GetLastPInvokeError();
                if (errno != Unix.Errno.EINTR)
                {
                    throw new IOException($"write to {Description} failed: {Unix.Errno.Describe(errno)}");
                }
            }
        }
    }

    public override void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        // Wakes a blocked read when the descriptor is a socket; on the xenbus device it fails harmlessly (ENOTSOCK)
        // and the reader thread ends at the device's next message.
        _ = Unix.Shutdown(_fd, Unix.SHUT_RDWR);
        _fd.Dispose();
    }
}
