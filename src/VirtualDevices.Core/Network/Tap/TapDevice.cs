using System.Net;
using VirtualDevices.Interop;
using VirtualDevices.IO.Buffers;

namespace VirtualDevices.Network.Tap;

/// <summary>
/// A Linux TAP interface as a network device: frames this device writes are received by the kernel on the interface,
/// and frames the kernel sends out of the interface are received here. One frame per <c>read</c> and per <c>write</c>
/// (IFF_NO_PI). A thread per device waits in <c>poll</c> on its queues and reads each ready frame straight into a
/// pooled page, which it hands to the consumers without a copy.
/// </summary>
/// <remarks>
/// <para>
/// The kernel's counters of the interface mirror this device's: its tx_packets are our RxPackets (what the kernel
/// sent us), its rx_packets our TxPackets. A frame the kernel had to drop because this device did not read fast
/// enough (its 500-frame queue was full) is the interface's tx_dropped, not one of ours.
/// </para>
/// <para>
/// Not used: IFF_VNET_HDR. It prefixes each frame with a virtio-net header so that the kernel can hand over and take
/// segmentation-offloaded superframes (up to 64 KiB) and skip checksums. Its gain comes from those superframes; this
/// device's contract is MTU-sized Ethernet frames, so with offloads off the header would be 10 bytes more per frame
/// and nothing less. It was not measured here; it pays only with a consumer that speaks virtio-net offloads.
/// </para>
/// <para>
/// When the interface is deleted underneath (<c>ip link del</c>) the driver wakes poll with POLLERR and fails every
/// read and write with EBADFD: the device then disconnects itself with a <see cref="DeviceDisconnectedException"/>
/// (its consumers read what was queued, then see it), and its writes fail with that error.
/// </para>
/// </remarks>
public sealed class TapDevice : NetworkDevice
{
    /// <summary>The driver's name (<see cref="Devices.IDevice.Driver"/>).</summary>
    public const string DriverName = "tap";

    /// <summary>Frames read from one queue before the others get their turn.</summary>
    private const int ReadBurst = 64;

    private readonly SafeFileDescriptor[] _queues;
    private readonly SafeFileDescriptor _wake;
    private readonly Thread _receiver;
    private readonly TapNat? _nat;
    private int _nextQueue;
    private int _released;

    private TapDevice(string interfaceName, MacAddress mac, int mtu, VirtualInterfaceOptions options, SafeFileDescriptor[] queues, SafeFileDescriptor wake, TapNat? nat)
        : base(interfaceName, DriverName, Describe(interfaceName, options), mac, mtu, options.ReceiveQueueLength)
    {
        InterfaceName = interfaceName;
        Mode = options.Mode;
        Namespace = options.Namespace;
        Persistent = options.Persistent;
        HostAddress = options.HostAddress;
        PrefixLength = options.HostAddress is null ? 0 : options.PrefixLength;
        BridgeName = options.Mode == NetworkInterfaceMode.Bridged ? options.BridgeName : null;
        _queues = queues;
        _wake = wake;
        _nat = nat;
        _receiver = new Thread(ReceiveLoop) { IsBackground = true, Name = $"tap {interfaceName}" };
        _receiver.Start();
    }

    /// <summary>The kernel's name of the interface (also the device's name).</summary>
    public string InterfaceName { get; }

    /// <summary>How the interface reaches anything.</summary>
    public NetworkInterfaceMode Mode { get; }

    /// <summary>The network namespace the interface was made in, or null for the process's.</summary>
    public string? Namespace { get; }

    /// <summary>True when the interface outlives the device.</summary>
    public bool Persistent { get; }

    /// <summary>The host's IPv4 address on the link, or null.</summary>
    public IPAddress? HostAddress { get; }

    /// <summary>The prefix length of <see cref="HostAddress"/> (0 without one).</summary>
    public int PrefixLength { get; }

    /// <summary>The bridge the interface is a port of (Bridged mode), or null.</summary>
    public string? BridgeName { get; }

    /// <summary>The queues (descriptors) of the interface: more than 1 for a multi-queue TAP.</summary>
    public int QueueCount => _queues.Length;

    /// <summary>The nftables table of Shared mode, or null.</summary>
    public string? NatTable => _nat?.Table;

    /// <summary>Makes (or, for a persistent one, attaches to) a TAP interface and configures it as <paramref name="options"/> say.</summary>
    /// <param name="options">Name, mode, MAC, MTU, address, bridge, queues, namespace.</param>
    /// <exception cref="DeviceException">The interface cannot be made or configured (ids of <see cref="DeviceErrorIds.Network"/>).</exception>
    /// <exception cref="PlatformNotSupportedException">Not Linux.</exception>
    public static TapDevice Create(VirtualInterfaceOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (!OperatingSystem.IsLinux())
        {
            throw new DeviceException(DeviceErrorIds.Network.InterfaceUnsupported, DeviceErrorCategory.NotImplemented,
                "TAP interfaces are Linux's; on macOS use a vmnet interface (Start-VmnetInterface picks it).", options.Name);
        }

        string name = options.Name ?? TapInterface.DefaultNameTemplate;
        TapInterface.ValidateName(name);
        ArgumentOutOfRangeException.ThrowIfLessThan(options.Queues, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(options.Queues, 256);
        if (options.Mode == NetworkInterfaceMode.Bridged && string.IsNullOrEmpty(options.BridgeName))
        {
            throw new ArgumentException("Bridged mode needs the name of an existing bridge (BridgeName).", nameof(options));
        }

        if (options.Mode == NetworkInterfaceMode.Shared && options.HostAddress is null)
        {
            throw new ArgumentException("Shared mode needs the host's address on the link (HostAddress, such as 10.0.64.1/24): it is the subnet that is translated.", nameof(options));
        }

        if (options.Mode == NetworkInterfaceMode.Bridged && options.HostAddress is not null)
        {
            throw new ArgumentException("Bridged mode takes no host address: the bridge has the host's address, if any.", nameof(options));
        }

        return NetworkNamespace.Run(options.Namespace, () => CreateHere(name, options));
    }

    /// <summary>Called in the interface's namespace.</summary>
    private static TapDevice CreateHere(string name, VirtualInterfaceOptions options)
    {
        var queues = new List<SafeFileDescriptor>();
        SafeFileDescriptor? wake = null;
        TapNat? nat = null;
        try
        {
            bool multiQueue = options.Queues > 1;
            name = TapInterface.OpenQueue(name, multiQueue, out SafeFileDescriptor first);
            queues.Add(first);
            for (int i = 1; i < options.Queues; i++)
            {
                TapInterface.OpenQueue(name, multiQueue, out SafeFileDescriptor queue);
                queues.Add(queue);
            }

            using SafeFileDescriptor control = TapInterface.ControlSocket(name);
            if (options.MacAddress is { } mac)
            {
                TapInterface.SetMacAddress(control, name, mac);
            }

            if (options.Mtu is { } mtu)
            {
                TapInterface.SetMtu(control, name, mtu);
            }

            switch (options.Mode)
            {
                case NetworkInterfaceMode.Bridged:
                    TapInterface.AddToBridge(control, name, options.BridgeName!);
                    break;
                case NetworkInterfaceMode.Host or NetworkInterfaceMode.Shared when options.HostAddress is not null:
                    TapInterface.SetIPv4Address(control, name, options.HostAddress, options.PrefixLength);
                    break;
            }

            TapInterface.SetUp(control, name);
            if (options.Mode == NetworkInterfaceMode.Shared)
            {
                nat = TapNat.Apply(name, options.HostAddress!, options.PrefixLength, options.Namespace);
            }

            if (options.Persistent)
            {
                TapInterface.SetPersistent(first, name, persistent: true);
            }

            wake = Unix.EventFd(0, Unix.EFD_CLOEXEC | Unix.EFD_NONBLOCK);
            if (wake.IsInvalid)
            {
                throw TapInterface.Failure(Marshal.GetLastPInvokeError(), name, "eventfd failed");
            }

            MacAddress address = TapInterface.GetMacAddress(control, name);
            int actualMtu = TapInterface.GetMtu(control, name);
            return new TapDevice(name, address, actualMtu, options, [.. queues], wake, nat);
        }
        catch
        {
            nat?.Remove();
            wake?.Dispose();
            foreach (SafeFileDescriptor queue in queues)
            {
                queue.Dispose(); // the last close removes an interface made now (unless it was made persistent)
            }

            throw;
        }
    }

    /// <inheritdoc/>
    protected override unsafe ValueTask WriteCoreAsync(ReadOnlyMemory<byte> frame, CancellationToken cancellationToken)
    {
        // Queues are shared round-robin: the kernel's queue of a written frame only matters for its own receive steering.
        SafeFileDescriptor fd = _queues.Length == 1 ? _queues[0] : _queues[(uint)Interlocked.Increment(ref _nextQueue) % (uint)_queues.Length];
        using System.Buffers.MemoryHandle pin = frame.Pin();
        while (true)
        {
            nint written = Unix.Write(fd, (byte*)pin.Pointer, (nuint)frame.Length);
            if (written >= 0)
            {
                return default;
            }

            int errno = Marshal.GetLastPInvokeError();
            if (errno == Unix.Errno.EINTR)
            {
                continue;
            }

            if (errno == Unix.Errno.EAGAIN)
            {
                Counters.SendDropped(); // the kernel's backlog is full: dropped, as a NIC's full ring drops
                return default;
            }

            throw WriteError(errno, frame.Length);
        }
    }

    /// <inheritdoc/>
    protected override ValueTask DisconnectCoreAsync(CancellationToken cancellationToken)
    {
        Wake();
        if (Environment.CurrentManagedThreadId != _receiver.ManagedThreadId)
        {
            _receiver.Join();
        }

        ReleaseInterface();
        return default;
    }

    /// <summary>
    /// Removes the NAT table and closes the queues (the last close removes a non-persistent interface); once, from a
    /// disconnect or from the receive loop when the interface failed (the base class then calls no disconnect).
    /// </summary>
    private void ReleaseInterface()
    {
        if (Interlocked.Exchange(ref _released, 1) != 0)
        {
            return;
        }

        try
        {
            _nat?.Remove();
        }
        finally
        {
            foreach (SafeFileDescriptor queue in _queues)
            {
                queue.Dispose();
            }

            _wake.Dispose();
        }
    }

    private static string Describe(string name, VirtualInterfaceOptions options)
    {
        string mode = options.Mode switch
        {
            NetworkInterfaceMode.Bridged => $"bridged to {options.BridgeName}",
            NetworkInterfaceMode.Shared => $"shared, {options.HostAddress}/{options.PrefixLength} NAT",
            _ => options.HostAddress is null ? "host" : $"host, {options.HostAddress}/{options.PrefixLength}",
        };
        return options.Namespace is null ? $"{name} ({mode})" : $"{name} ({mode}, netns {options.Namespace})";
    }

    private Exception WriteError(int errno, int length)
    {
        if (errno == Unix.Errno.EBADFD || errno == Unix.Errno.EIO)
        {
            var gone = new DeviceDisconnectedException(Name, $"the interface {InterfaceName} was removed (ip link del)");
            MarkDisconnected(gone);
            return gone;
        }

        if (errno == Unix.Errno.EINVAL || errno == Unix.Errno.EMSGSIZE)
        {
            return new FrameSizeException(Name, length, EthernetHeaderSize, MaxFrameSize);
        }

        return new DeviceException(DeviceErrorIds.Network.InterfaceFailed, DeviceErrorCategory.WriteError,
            $"Device '{Name}': writing a frame to the TAP failed: {Unix.Errno.Describe(errno)}.", Name);
    }

    private unsafe void Wake()
    {
        ulong one = 1;
        bool added = false;
        try
        {
            _wake.DangerousAddRef(ref added);
            _ = Unix.Write(_wake, (byte*)&one, sizeof(ulong));
        }
        catch (ObjectDisposedException)
        {
            // Already closed: the loop has ended.
        }
        finally
        {
            if (added)
            {
                _wake.DangerousRelease();
            }
        }
    }

    private unsafe void ReceiveLoop()
    {
        int count = _queues.Length;
        var references = new bool[count];
        bool wakeReferenced = false;
        byte[] scratch = new byte[Math.Max(MaxFrameSize, 65536)];
        bool failed = false;
        try
        {
            // The descriptors stay open while poll and read use their numbers: disconnect closes them only after Join.
            for (int i = 0; i < count; i++)
            {
                _queues[i].DangerousAddRef(ref references[i]);
            }

            _wake.DangerousAddRef(ref wakeReferenced);
            Unix.PollFd* fds = stackalloc Unix.PollFd[count + 1];
            for (int i = 0; i < count; i++)
            {
                fds[i] = new Unix.PollFd { Fd = _queues[i].Fd, Events = Unix.POLLIN };
            }

            fds[count] = new Unix.PollFd { Fd = _wake.Fd, Events = Unix.POLLIN };
            while (true)
            {
                int ready = Unix.Poll(fds, (nuint)(count + 1), Timeout.Infinite);
                if (ready < 0)
                {
                    int errno = Marshal.GetLastPInvokeError();
                    if (errno == Unix.Errno.EINTR)
                    {
                        continue;
                    }

                    MarkDisconnected(new DeviceException(DeviceErrorIds.Network.InterfaceFailed, DeviceErrorCategory.ReadError,
                        $"Device '{Name}': poll failed: {Unix.Errno.Describe(errno)}.", Name));
                    failed = true;
                    return;
                }

                if (fds[count].ReturnedEvents != 0 || !IsConnected)
                {
                    return; // stopping
                }

                for (int i = 0; i < count; i++)
                {
                    if (fds[i].ReturnedEvents != 0 && !Drain(_queues[i], scratch))
                    {
                        failed = true;
                        return;
                    }
                }
            }
        }
        finally
        {
            for (int i = 0; i < count; i++)
            {
                if (references[i])
                {
                    _queues[i].DangerousRelease();
                }
            }

            if (wakeReferenced)
            {
                _wake.DangerousRelease();
            }

            if (failed)
            {
                ReleaseInterface();
            }
        }
    }

    /// <summary>Reads up to <see cref="ReadBurst"/> frames of one queue; false when the device is gone.</summary>
    private unsafe bool Drain(SafeFileDescriptor fd, byte[] scratch)
    {
        for (int n = 0; n < ReadBurst; n++)
        {
            nint read;
            if (TryRentFrameBuffer(out PageLease page))
            {
                read = Unix.Read(fd, (byte*)page.Address, (nuint)page.Length);
                if (read >= 0)
                {
                    Deliver(page, (int)read); // a frame over MaxFrameSize is refused there and counted as RxErrors
                    continue;
                }

                page.Dispose();
            }
            else
            {
                // No free page (counted as RxNoBuffer): the frame is still taken off the kernel's queue and dropped here.
                fixed (byte* buffer = scratch)
                {
                    read = Unix.Read(fd, buffer, (nuint)scratch.Length);
                }

                if (read >= 0)
                {
                    continue;
                }
            }

            int errno = Marshal.GetLastPInvokeError();
            if (errno == Unix.Errno.EAGAIN)
            {
                return true;
            }

            if (errno == Unix.Errno.EINTR)
            {
                continue;
            }

            MarkDisconnected(errno == Unix.Errno.EBADFD
                ? new DeviceDisconnectedException(Name, $"the interface {InterfaceName} was removed (ip link del)")
                : new DeviceException(DeviceErrorIds.Network.InterfaceFailed, DeviceErrorCategory.ReadError,
                    $"Device '{Name}': reading from the TAP failed: {Unix.Errno.Describe(errno)}.", Name));
            return false;
        }

        return true;
    }
}
