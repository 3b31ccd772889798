using VirtualDevices.Interop;

namespace VirtualDevices.IO;

/// <summary>
/// A connected stream on a bare descriptor, through <c>read(2)</c>/<c>write(2)</c>: a character device such as a Xen
/// guest's <c>/dev/xen/xenbus</c>, or any stream socket (which is how tests exercise this path without Xen).
/// </summary>
internal sealed class DescriptorTransport : Transport
{
    private readonly SafeFileDescriptor _fd;
    private int _shutdown;
    private int _disposed;

    /// <param name="fd">An open descriptor, owned by the transport from now on.</param>
    /// <param name="description">Where it leads, for messages.</param>
    public DescriptorTransport(SafeFileDescriptor fd, string description)
    {
        _fd = fd;
        Description = description;
    }

    /// <inheritdoc/>
    public override string Description { get; }

    /// <summary>Opens <paramref name="path"/> read-write.</summary>
    /// <returns>The transport, or null with the errno when the open failed.</returns>
    public static DescriptorTransport? TryOpen(string path, out int errno)
    {
        SafeFileDescriptor fd = Unix.Open(path, Unix.OpenFlags.O_RDWR | Unix.OpenFlags.O_CLOEXEC, 0);
        if (fd.IsInvalid)
        {
            errno = Marshal.GetLastPInvokeError();
            fd.Dispose();
            return null;
        }

        errno = 0;
        return new DescriptorTransport(fd, path);
    }

    /// <inheritdoc/>
    public override unsafe int Receive(Span<byte> buffer)
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

    /// <inheritdoc/>
    public override unsafe void Send(ReadOnlySpan<byte> data)
    {
        fixed (byte* pointer = data)
        {
            int sent = 0;
            while (sent < data.Length)
            {
                nint written = Unix.Write(_fd, pointer + sent, (nuint)(data.Length - sent));
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

    /// <inheritdoc/>
    public override void Shutdown()
    {
        if (Interlocked.Exchange(ref _shutdown, 1) != 0 || _fd.IsClosed)
        {
            return;
        }

        // Wakes a blocked read when the descriptor is a socket; on the xenbus device it fails harmlessly (ENOTSOCK)
        // and the reader ends at the device's next message.
        _ = Unix.Shutdown(_fd, Unix.SHUT_RDWR);
    }

    /// <inheritdoc/>
    public override void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        Shutdown();
        _fd.Dispose();
    }
}
