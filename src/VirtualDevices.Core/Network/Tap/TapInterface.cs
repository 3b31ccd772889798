using System.Net;
using System.Net.Sockets;
using VirtualDevices.Interop;

namespace VirtualDevices.Network.Tap;

/// <summary>
/// Makes and configures a Linux TAP interface with the kernel's own calls: <c>/dev/net/tun</c> and TUNSETIFF for the
/// interface and each queue, then the interface ioctls (SIOCSIFHWADDR, SIOCSIFMTU, SIOCSIFADDR, SIOCBRADDIF,
/// SIOCSIFFLAGS) on a socket of the namespace the interface is in. No external program is run for any of it.
/// </summary>
internal static class TapInterface
{
    /// <summary>The clone device of the TUN/TAP driver.</summary>
    public const string ClonePath = "/dev/net/tun";

    /// <summary>The template of generated names: the kernel puts the first free number in place of %d.</summary>
    public const string DefaultNameTemplate = "vdtap%d";

    /// <summary>Checks a name the kernel will accept (dev_valid_name: 1-15 bytes, not . or .., no '/', ':' or blank).</summary>
    /// <param name="name">The name, which may hold one %d.</param>
    /// <exception cref="DeviceException"><see cref="DeviceErrorIds.Network.InterfaceNameInvalid"/>.</exception>
    public static void ValidateName(string name)
    {
        string? problem = name.Length == 0 ? "it is empty"
            : System.Text.Encoding.UTF8.GetByteCount(name) > Unix.NetDeviceIoctl.IFNAMSIZ - 1 ? $"it is longer than {Unix.NetDeviceIoctl.IFNAMSIZ - 1} bytes (IFNAMSIZ)"
            : name is "." or ".." ? "it is . or .."
            : name.Any(c => c is '/' or ':' || char.IsWhiteSpace(c) || c > 0x7E || c < 0x21) ? "it has a '/', a ':', a blank or a character outside printable ASCII"
            : name.Split("%d").Length > 2 || (name.Contains('%', StringComparison.Ordinal) && name.Replace("%d", string.Empty, StringComparison.Ordinal).Contains('%', StringComparison.Ordinal)) ? "a '%' other than one %d"
            : null;
        if (problem is not null)
        {
            throw new DeviceException(DeviceErrorIds.Network.InterfaceNameInvalid, DeviceErrorCategory.InvalidArgument,
                $"'{name}' cannot name a network interface: {problem}.", name);
        }
    }

    /// <summary>Opens one queue of the interface and attaches it (TUNSETIFF); returns the interface's name.</summary>
    /// <param name="name">The name or template.</param>
    /// <param name="multiQueue">IFF_MULTI_QUEUE.</param>
    /// <param name="fd">The queue's descriptor (non-blocking).</param>
    public static unsafe string OpenQueue(string name, bool multiQueue, out SafeFileDescriptor fd)
    {
        fd = Unix.Open(ClonePath, Unix.OpenFlags.O_RDWR | Unix.OpenFlags.O_NONBLOCK | Unix.OpenFlags.O_CLOEXEC, 0);
        if (fd.IsInvalid)
        {
            int errno = Marshal.GetLastPInvokeError();
            fd.Dispose();
            throw errno == Unix.Errno.ENOENT || errno == Unix.Errno.ENXIO || errno == Unix.Errno.ENODEV
                ? new DeviceException(DeviceErrorIds.Network.InterfaceUnsupported, DeviceErrorCategory.NotImplemented,
                    $"{ClonePath} is missing: the kernel has no TUN/TAP driver loaded (modprobe tun) or this container does not expose it ({Unix.Errno.Describe(errno)}).", name)
                : Failure(errno, name, $"{ClonePath} cannot be opened");
        }

        var request = default(Unix.IfReq);
        request.SetName(name);
        request.Flags = (short)(Unix.TunIoctl.IFF_TAP | Unix.TunIoctl.IFF_NO_PI | (multiQueue ? Unix.TunIoctl.IFF_MULTI_QUEUE : 0));
        if (Unix.Ioctl(fd, Unix.TunIoctl.TUNSETIFF, &request) != 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            fd.Dispose();
            fd = null!;
            throw errno == Unix.Errno.EINVAL || errno == Unix.Errno.EBUSY
                ? new DeviceException(DeviceErrorIds.Network.InterfaceBusy, DeviceErrorCategory.ResourceBusy,
                    $"The interface '{name}' exists and cannot be attached as a TAP of this kind: it is not a TAP, is in use, or was made with other flags (multi-queue or not) ({Unix.Errno.Describe(errno)}).", name)
                : Failure(errno, name, "TUNSETIFF (making the TAP interface) failed");
        }

        return request.GetName();
    }

    /// <summary>TUNSETPERSIST.</summary>
    public static unsafe void SetPersistent(SafeFileDescriptor fd, string name, bool persistent)
    {
        if (Unix.Ioctl(fd, Unix.TunIoctl.TUNSETPERSIST, (void*)(persistent ? 1 : 0)) != 0)
        {
            throw Failure(Marshal.GetLastPInvokeError(), name, "TUNSETPERSIST failed");
        }
    }

    /// <summary>An AF_INET datagram socket of the calling thread's namespace, for the interface ioctls.</summary>
    public static SafeFileDescriptor ControlSocket(string name)
    {
        SafeFileDescriptor socket = Unix.Socket(Unix.NetDeviceIoctl.AF_INET, Unix.NetDeviceIoctl.SOCK_DGRAM | Unix.SOCK_CLOEXEC, 0);
        if (socket.IsInvalid)
        {
            int errno = Marshal.GetLastPInvokeError();
            socket.Dispose();
            throw Failure(errno, name, "a socket for the interface ioctls cannot be made");
        }

        return socket;
    }

    /// <summary>SIOCSIFHWADDR.</summary>
    public static unsafe void SetMacAddress(SafeFileDescriptor socket, string name, MacAddress address)
    {
        var request = default(Unix.IfReq);
        request.SetName(name);
        request.AddressFamily = Unix.NetDeviceIoctl.ARPHRD_ETHER;
        address.Write(new Span<byte>(request.AddressData, 6));
        if (Unix.Ioctl(socket, Unix.NetDeviceIoctl.SIOCSIFHWADDR, &request) != 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            throw errno == Unix.Errno.EINVAL || errno == Unix.Errno.EADDRNOTAVAIL
                ? new DeviceException(DeviceErrorIds.Network.InterfaceFailed, DeviceErrorCategory.InvalidArgument,
                    $"The interface '{name}' refuses the MAC address {address} (a multicast address cannot be an interface's): {Unix.Errno.Describe(errno)}.", name)
                : Failure(errno, name, $"setting the MAC address {address} failed");
        }
    }

    /// <summary>SIOCGIFHWADDR.</summary>
    public static unsafe MacAddress GetMacAddress(SafeFileDescriptor socket, string name)
    {
        var request = default(Unix.IfReq);
        request.SetName(name);
        if (Unix.Ioctl(socket, Unix.NetDeviceIoctl.SIOCGIFHWADDR, &request) != 0)
        {
            throw Failure(Marshal.GetLastPInvokeError(), name, "reading the MAC address failed");
        }

        return MacAddress.Read(new ReadOnlySpan<byte>(request.AddressData, 6));
    }

    /// <summary>SIOCSIFMTU.</summary>
    public static unsafe void SetMtu(SafeFileDescriptor socket, string name, int mtu)
    {
        var request = default(Unix.IfReq);
        request.SetName(name);
        request.Value = mtu;
        if (Unix.Ioctl(socket, Unix.NetDeviceIoctl.SIOCSIFMTU, &request) != 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            throw errno == Unix.Errno.EINVAL
                ? new DeviceException(DeviceErrorIds.Network.InterfaceFailed, DeviceErrorCategory.InvalidArgument,
                    $"The interface '{name}' refuses the MTU {mtu} (a TAP takes 68..65521): {Unix.Errno.Describe(errno)}.", name)
                : Failure(errno, name, $"setting the MTU {mtu} failed");
        }
    }

    /// <summary>SIOCGIFMTU.</summary>
    public static unsafe int GetMtu(SafeFileDescriptor socket, string name)
    {
        var request = default(Unix.IfReq);
        request.SetName(name);
        if (Unix.Ioctl(socket, Unix.NetDeviceIoctl.SIOCGIFMTU, &request) != 0)
        {
            throw Failure(Marshal.GetLastPInvokeError(), name, "reading the MTU failed");
        }

        return request.Value;
    }

    /// <summary>SIOCSIFADDR and SIOCSIFNETMASK: the host's IPv4 address on the link (the kernel adds the subnet's route).</summary>
    public static unsafe void SetIPv4Address(SafeFileDescriptor socket, string name, IPAddress address, int prefixLength)
    {
        if (address.AddressFamily != AddressFamily.InterNetwork || prefixLength is < 1 or > 32)
        {
            throw new DeviceException(DeviceErrorIds.Network.InterfaceFailed, DeviceErrorCategory.InvalidArgument,
                $"The host address must be IPv4 with a prefix of 1..32 ({address}/{prefixLength} is not).", name);
        }

        var request = default(Unix.IfReq);
        request.SetName(name);
        request.AddressFamily = Unix.NetDeviceIoctl.AF_INET;
        request.InetAddress = BitConverter.ToUInt32(address.GetAddressBytes());
        if (Unix.Ioctl(socket, Unix.NetDeviceIoctl.SIOCSIFADDR, &request) != 0)
        {
            throw Failure(Marshal.GetLastPInvokeError(), name, $"setting the address {address} failed");
        }

        uint mask = prefixLength == 32 ? uint.MaxValue : ~(uint.MaxValue >> prefixLength);
        request = default;
        request.SetName(name);
        request.AddressFamily = Unix.NetDeviceIoctl.AF_INET;
        request.InetAddress = (uint)IPAddress.HostToNetworkOrder((int)mask);
        if (Unix.Ioctl(socket, Unix.NetDeviceIoctl.SIOCSIFNETMASK, &request) != 0)
        {
            throw Failure(Marshal.GetLastPInvokeError(), name, $"setting the netmask /{prefixLength} failed");
        }
    }

    /// <summary>SIOCGIFINDEX.</summary>
    public static unsafe int GetIndex(SafeFileDescriptor socket, string name)
    {
        var request = default(Unix.IfReq);
        request.SetName(name);
        if (Unix.Ioctl(socket, Unix.NetDeviceIoctl.SIOCGIFINDEX, &request) != 0)
        {
            throw Failure(Marshal.GetLastPInvokeError(), name, "reading the interface index failed");
        }

        return request.Value;
    }

    /// <summary>SIOCBRADDIF: makes the interface a port of an existing bridge.</summary>
    public static unsafe void AddToBridge(SafeFileDescriptor socket, string name, string bridge)
    {
        ValidateName(bridge);
        int index = GetIndex(socket, name);
        var request = default(Unix.IfReq);
        request.SetName(bridge);
        request.Value = index;
        if (Unix.Ioctl(socket, Unix.NetDeviceIoctl.SIOCBRADDIF, &request) != 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            throw errno == Unix.Errno.ENODEV || errno == Unix.Errno.EOPNOTSUPP || errno == Unix.Errno.EINVAL
                ? new DeviceException(DeviceErrorIds.Network.BridgeNotFound, DeviceErrorCategory.ObjectNotFound,
                    $"'{bridge}' is not a bridge of this network namespace (make one with: ip link add {bridge} type bridge): {Unix.Errno.Describe(errno)}.", bridge)
                : Failure(errno, name, $"adding the interface to the bridge '{bridge}' failed");
        }
    }

    /// <summary>SIOCGIFFLAGS then SIOCSIFFLAGS with IFF_UP.</summary>
    public static unsafe void SetUp(SafeFileDescriptor socket, string name)
    {
        var request = default(Unix.IfReq);
        request.SetName(name);
        if (Unix.Ioctl(socket, Unix.NetDeviceIoctl.SIOCGIFFLAGS, &request) != 0)
        {
            throw Failure(Marshal.GetLastPInvokeError(), name, "reading the interface flags failed");
        }

        request.Flags |= Unix.NetDeviceIoctl.IFF_UP;
        if (Unix.Ioctl(socket, Unix.NetDeviceIoctl.SIOCSIFFLAGS, &request) != 0)
        {
            throw Failure(Marshal.GetLastPInvokeError(), name, "bringing the link up failed");
        }
    }

    /// <summary>The error of a failed set-up call: permission (CAP_NET_ADMIN) or a plain failure.</summary>
    public static DeviceException Failure(int errno, string name, string what) =>
        errno == Unix.Errno.EPERM || errno == Unix.Errno.EACCES
            ? new DeviceException(DeviceErrorIds.Network.InterfaceAccessDenied, DeviceErrorCategory.PermissionDenied,
                $"Interface '{name}': {what}: {Unix.Errno.Describe(errno)}. Making and configuring a TAP needs CAP_NET_ADMIN (run as root, or give the program the capability).", name)
            : new DeviceException(DeviceErrorIds.Network.InterfaceFailed, DeviceErrorCategory.NotSpecified,
                $"Interface '{name}': {what}: {Unix.Errno.Describe(errno)}.", name);
}
