using VirtualDevices.Interop;

namespace VirtualDevices.Xen.EventChannels;

/// <summary>
/// Linux's event channel device (<c>/dev/xen/evtchn</c>): ports bound through one open of the device, events sent on
/// them, and the ports that fired read back from it.
/// </summary>
/// <remarks>
/// <para>
/// The driver's protocol (drivers/xen/evtchn.c): each bind ioctl returns the new local port; when a port fires, the
/// driver masks it and queues it on a per-open ring that <c>read</c> drains as 32-bit port numbers; the port stays
/// masked, so it fires no more, until its number is written back (<see cref="Unmask(uint)"/>). Events that arrive while
/// a port is masked are not lost: Xen keeps the port pending and delivers it once at unmask. The ring is sized for
/// every bound port, so it overflows only when a caller unmasks a port before draining it; the driver then fails
/// every read with EFBIG until <see cref="Reset"/>.
/// </para>
/// <para>
/// The descriptor is opened non-blocking and is pollable (readable while a port is pending), so an event loop may
/// poll it with others; <see cref="WaitPending"/> is the blocking read, woken early by cancellation or disposal. One
/// thread waits at a time.
/// </para>
/// </remarks>
internal sealed class EventChannelDevice : IDisposable
{
    /// <summary>The node on a Xen domain with the xen-evtchn module loaded.</summary>
    public const string DefaultPath = "/dev/xen/evtchn";

    private readonly SafeFileDescriptor _fd;
    private readonly SafeFileDescriptor _wake;
    private int _waiting;
    private int _disposed;

    private EventChannelDevice(SafeFileDescriptor fd, SafeFileDescriptor wake, string path)
    {
        _fd = fd;
        _wake = wake;
        Path = path;
    }

    /// <summary>The device node.</summary>
    public string Path { get; }

    /// <summary>The descriptor, for poll or epoll: readable (POLLIN) while a port is pending, POLLERR after an overflow.</summary>
    public SafeFileDescriptor Descriptor => _fd;

    /// <summary>Opens the device.</summary>
    /// <exception cref="XenDeviceException">The device is missing (<see cref="DeviceErrorIds.Xen.NotFound"/>), may not
    /// be opened, or the open failed.</exception>
    public static EventChannelDevice Open(string path = DefaultPath)
    {
        SafeFileDescriptor fd = XenDeviceNode.Open(path, "xen-evtchn", nonBlocking: true);
        SafeFileDescriptor wake = Unix.EventFd(0, Unix.EFD_CLOEXEC | Unix.EFD_NONBLOCK);
        if (wake.IsInvalid)
        {
            int errno = Marshal.GetLastPInvokeError();
            wake.Dispose();
            fd.Dispose();
            throw new XenDeviceException(DeviceErrorIds.Xen.OpenFailed, path, errno, "The wake-up descriptor of the event channel device could not be created");
        }

        return new EventChannelDevice(fd, wake, path);
    }

    /// <summary>Allocates a port that <paramref name="remoteDomain"/> may bind, bound here.</summary>
    /// <returns>The local port, to advertise to the remote domain (through xenstore, usually).</returns>
    public uint BindUnboundPort(ushort remoteDomain)
    {
        var bind = new Unix.EvtchnBindUnboundPort { RemoteDomain = remoteDomain };
        return Bind(Unix.EvtchnIoctl.IOCTL_EVTCHN_BIND_UNBOUND_PORT, ref bind, $"an unbound port for domain {remoteDomain}");
    }

    /// <summary>Binds a port here to the port <paramref name="remotePort"/> that <paramref name="remoteDomain"/> allocated for us.</summary>
    /// <returns>The local port: a notify on it fires the remote port, and the remote's notify fires it.</returns>
    /// <remarks>
    /// The new port starts with one event pending: Xen sets it at bind because the remote end may have notified the
    /// port while it was unbound (xen/common/event_channel.c, seen in the real-Xen lab). A driver takes it as a
    /// prompt to look at its shared ring, which is what every event means anyway.
    /// </remarks>
    public uint BindInterdomain(ushort remoteDomain, uint remotePort)
    {
        var bind = new Unix.EvtchnBindInterdomain { RemoteDomain = remoteDomain, RemotePort = remotePort };
        return Bind(Unix.EvtchnIoctl.IOCTL_EVTCHN_BIND_INTERDOMAIN, ref bind, $"port {remotePort} of domain {remoteDomain}");
    }

    /// <summary>Sends an event to the other end of <paramref name="port"/>.</summary>
    /// <exception cref="XenDeviceException"><see cref="DeviceErrorIds.Xen.EventChannelNotBound"/> when the port is not bound here.</exception>
    public void Notify(uint port) => PortIoctl(Unix.EvtchnIoctl.IOCTL_EVTCHN_NOTIFY, port, DeviceErrorIds.Xen.EventChannelNotifyFailed, "notify");

    /// <summary>Closes <paramref name="port"/> (the remote end sees it closed). Closing the device closes all its ports.</summary>
    public void Unbind(uint port) => PortIoctl(Unix.EvtchnIoctl.IOCTL_EVTCHN_UNBIND, port, DeviceErrorIds.Xen.EventChannelUnbindFailed, "unbind");

    /// <summary>Re-enables a port read by <see cref="TryReadPending"/> or <see cref="WaitPending"/>, so that it fires again.</summary>
    public void Unmask(uint port) => Unmask([port]);

    /// <summary>Re-enables ports (at most 1024 per call: the driver takes one page of port numbers).</summary>
    public unsafe void Unmask(ReadOnlySpan<uint> ports)
    {
        while (!ports.IsEmpty)
        {
            ReadOnlySpan<uint> chunk = ports[..Math.Min(ports.Length, 1024)];
            fixed (uint* pointer = chunk)
            {
                nint written = Unix.Write(_fd, (byte*)pointer, (nuint)(chunk.Length * sizeof(uint)));
                if (written < 0)
                {
                    int errno = Marshal.GetLastPInvokeError();
                    if (errno == Unix.Errno.EINTR)
                    {
                        continue;
                    }

                    throw new XenDeviceException(DeviceErrorIds.Xen.EventChannelReadFailed, Path, errno, "Unmasking event channel ports failed");
                }
            }

            ports = ports[chunk.Length..];
        }
    }

    /// <summary>Reads the ports that fired, without blocking. Each stays masked until <see cref="Unmask(uint)"/>.</summary>
    /// <returns>How many ports were written to <paramref name="ports"/>; 0 when none is pending.</returns>
    /// <exception cref="XenDeviceException"><see cref="DeviceErrorIds.Xen.EventChannelOverflow"/> when events were lost.</exception>
    public unsafe int TryReadPending(Span<uint> ports)
    {
        if (ports.IsEmpty)
        {
            return 0;
        }

        fixed (uint* pointer = ports)
        {
            while (true)
            {
                nint read = Unix.Read(_fd, (byte*)pointer, (nuint)(ports.Length * sizeof(uint)));
                if (read >= 0)
                {
                    return (int)(read / sizeof(uint));
                }

                int errno = Marshal.GetLastPInvokeError();
                if (errno == Unix.Errno.EINTR)
                {
                    continue;
                }

                if (errno == Unix.Errno.EAGAIN)
                {
                    return 0;
                }

                if (errno == Unix.Errno.EFBIG)
                {
                    throw new XenDeviceException(DeviceErrorIds.Xen.EventChannelOverflow, Path, errno,
                        "The event channel device's ring of pending ports overflowed (a port was unmasked before it was read); events were lost and the device must be reset");
                }

                throw new XenDeviceException(DeviceErrorIds.Xen.EventChannelReadFailed, Path, errno, "Reading pending event channel ports failed");
            }
        }
    }

    /// <summary>Waits until at least one port fired and reads the ports that did.</summary>
    /// <param name="ports">Receives the ports; each stays masked until <see cref="Unmask(uint)"/>.</param>
    /// <param name="timeoutMilliseconds">How long to wait; <see cref="Timeout.Infinite"/> for no limit.</param>
    /// <param name="cancellationToken">Ends the wait early.</param>
    /// <returns>How many ports were read; 0 when the time ran out first.</returns>
    /// <exception cref="OperationCanceledException">The token was cancelled.</exception>
    /// <exception cref="ObjectDisposedException">The device was disposed, before or during the wait.</exception>
    /// <exception cref="InvalidOperationException">Another thread is waiting on this device.</exception>
    public int WaitPending(Span<uint> ports, int timeoutMilliseconds, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(timeoutMilliseconds, Timeout.Infinite);
        ObjectDisposedException.ThrowIf(_disposed != 0, this);
        if (Interlocked.Exchange(ref _waiting, 1) != 0)
        {
            throw new InvalidOperationException("Another thread is waiting on this event channel device.");
        }

        bool fdReferenced = false;
        bool wakeReferenced = false;
        CancellationTokenRegistration registration = default;
        try
        {
            // Both descriptors stay open while poll uses their numbers, even if Dispose runs meanwhile.
            _fd.DangerousAddRef(ref fdReferenced);
            _wake.DangerousAddRef(ref wakeReferenced);
            if (cancellationToken.CanBeCanceled)
            {
                registration = cancellationToken.Register(static state => ((EventChannelDevice)state!).Wake(), this);
            }

            long deadline = timeoutMilliseconds == Timeout.Infinite ? long.MaxValue : Environment.TickCount64 + timeoutMilliseconds;
            while (true)
            {
                int read = TryReadPending(ports);
                if (read > 0)
                {
                    return read;
                }

                // A wake is cancellation or disposal, checked here.
                ObjectDisposedException.ThrowIf(_disposed != 0, this);
                cancellationToken.ThrowIfCancellationRequested();
                if (!WakeablePoll.Wait(_fd, _wake, deadline, Path, "Waiting for event channel ports failed"))
                {
                    // Timed out; a port that fired at the last moment is still returned.
                    return TryReadPending(ports);
                }
            }
        }
        finally
        {
            registration.Dispose();
            if (wakeReferenced)
            {
                _wake.DangerousRelease();
            }

            if (fdReferenced)
            {
                _fd.DangerousRelease();
            }

            Volatile.Write(ref _waiting, 0);
        }
    }

    /// <summary>Empties the ring of pending ports and clears an overflow, after <see cref="DeviceErrorIds.Xen.EventChannelOverflow"/>.</summary>
    public unsafe void Reset()
    {
        if (Unix.Ioctl(_fd, Unix.EvtchnIoctl.IOCTL_EVTCHN_RESET, null) < 0)
        {
            throw new XenDeviceException(DeviceErrorIds.Xen.EventChannelReadFailed, Path, Marshal.GetLastPInvokeError(), "Resetting the event channel device failed");
        }
    }

    /// <summary>Closes the device and every port bound through it; a thread in <see cref="WaitPending"/> is woken.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        Wake();
        _fd.Dispose();
        _wake.Dispose();
    }

    private unsafe uint Bind<T>(nuint request, ref T argument, string what)
        where T : unmanaged
    {
        fixed (T* pointer = &argument)
        {
            int port = Unix.Ioctl(_fd, request, pointer);
            if (port < 0)
            {
                throw new XenDeviceException(DeviceErrorIds.Xen.EventChannelBindFailed, Path, Marshal.GetLastPInvokeError(), $"Binding {what} failed");
            }

            return (uint)port;
        }
    }

    private unsafe void PortIoctl(nuint request, uint port, string errorId, string operation)
    {
        var argument = new Unix.EvtchnPort { Port = port };
        if (Unix.Ioctl(_fd, request, &argument) == 0)
        {
            return;
        }

        int errno = Marshal.GetLastPInvokeError();
        if (errno == Unix.Errno.ENOTCONN)
        {
            throw new XenDeviceException(DeviceErrorIds.Xen.EventChannelNotBound, Path, errno, $"Event channel port {port} is not bound through this device ({operation})");
        }

        throw new XenDeviceException(errorId, Path, errno, $"Event channel {operation} of port {port} failed");
    }

    /// <summary>Makes the wake-up descriptor readable, so that a poll in <see cref="WaitPending"/> returns.</summary>
    private unsafe void Wake()
    {
        ulong one = 1;
        try
        {
            _ = Unix.Write(_wake, (byte*)&one, sizeof(ulong));
        }
        catch (ObjectDisposedException)
        {
            // Already closed: nobody can be waiting on it.
        }
    }
}
