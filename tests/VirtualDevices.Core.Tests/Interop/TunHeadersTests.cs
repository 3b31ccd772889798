using System.Globalization;
using System.Runtime.InteropServices;
using VirtualDevices.Interop;
using VirtualDevices.Tests.Infrastructure;

namespace VirtualDevices.Tests.Interop;

/// <summary>
/// Every constant, ioctl number and the <c>struct ifreq</c> layout the TAP bindings use, checked against
/// <c>linux/if_tun.h</c>, <c>net/if.h</c>, <c>linux/sockios.h</c> and <c>errno.h</c> by compiling and running a C
/// program that prints the real values.
/// </summary>
public sealed class TunHeadersTests : IDisposable
{
    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    [Fact]
    public async Task TapIoctlsFlagsAndIfreqMatchTheLinuxHeaders()
    {
        Assert.True(OperatingSystem.IsLinux(), "the header check runs on Linux");
        const string source = """
            #define _GNU_SOURCE
            #include <errno.h>
            #include <sched.h>
            #include <stddef.h>
            #include <stdio.h>
            #include <sys/ioctl.h>
            #include <sys/socket.h>
            #include <net/if.h>
            #include <net/if_arp.h>
            #include <netinet/in.h>
            #include <linux/if_tun.h>
            #include <linux/sockios.h>
            #define P(name) printf(#name "=%lld\n", (long long)(name))
            int main(void) {
                P(TUNSETIFF); P(TUNSETPERSIST); P(TUNGETIFF);
                P(IFF_TAP); P(IFF_NO_PI); P(IFF_MULTI_QUEUE); P(IFF_VNET_HDR);
                P(SIOCGIFFLAGS); P(SIOCSIFFLAGS); P(SIOCSIFADDR); P(SIOCSIFNETMASK); P(SIOCGIFMTU); P(SIOCSIFMTU);
                P(SIOCSIFHWADDR); P(SIOCGIFHWADDR); P(SIOCGIFINDEX); P(SIOCBRADDIF); P(SIOCBRDELIF);
                P(IFF_UP); P(IFNAMSIZ); P(ARPHRD_ETHER); P(AF_INET); P(SOCK_DGRAM); P(CLONE_NEWNET);
                P(sizeof(struct ifreq)); P(offsetof(struct ifreq, ifr_name)); P(offsetof(struct ifreq, ifr_flags));
                P(offsetof(struct ifreq, ifr_mtu)); P(offsetof(struct ifreq, ifr_ifindex));
                P(offsetof(struct ifreq, ifr_hwaddr.sa_family)); P(offsetof(struct ifreq, ifr_hwaddr.sa_data));
                P(offsetof(struct ifreq, ifr_addr.sa_family));
                P(offsetof(struct ifreq, ifr_addr) + offsetof(struct sockaddr_in, sin_addr));
                P(sizeof(((struct ifreq *)0)->ifr_hwaddr.sa_data));
                P(EBADFD); P(EMSGSIZE); P(EADDRNOTAVAIL); P(ENODEV); P(EBUSY); P(EINVAL); P(EPERM); P(EAGAIN); P(EOPNOTSUPP);
                return 0;
            }
            """;
        CHeaderValues c = await CHeaderValues.CompileAndRunAsync(_temp.Path, "tunheaders", source);

        long Offset(string field) => Marshal.OffsetOf<Unix.IfReq>(field).ToInt64();

        c.Check("TUNSETIFF", (long)Unix.TunIoctl.TUNSETIFF);
        c.Check("TUNSETPERSIST", (long)Unix.TunIoctl.TUNSETPERSIST);
        c.Check("TUNGETIFF", (long)Unix.TunIoctl.TUNGETIFF);
        c.Check("IFF_TAP", Unix.TunIoctl.IFF_TAP);
        c.Check("IFF_NO_PI", Unix.TunIoctl.IFF_NO_PI);
        c.Check("IFF_MULTI_QUEUE", Unix.TunIoctl.IFF_MULTI_QUEUE);
        c.Check("IFF_VNET_HDR", Unix.TunIoctl.IFF_VNET_HDR);
        c.Check("SIOCGIFFLAGS", (long)Unix.NetDeviceIoctl.SIOCGIFFLAGS);
        c.Check("SIOCSIFFLAGS", (long)Unix.NetDeviceIoctl.SIOCSIFFLAGS);
        c.Check("SIOCSIFADDR", (long)Unix.NetDeviceIoctl.SIOCSIFADDR);
        c.Check("SIOCSIFNETMASK", (long)Unix.NetDeviceIoctl.SIOCSIFNETMASK);
        c.Check("SIOCGIFMTU", (long)Unix.NetDeviceIoctl.SIOCGIFMTU);
        c.Check("SIOCSIFMTU", (long)Unix.NetDeviceIoctl.SIOCSIFMTU);
        c.Check("SIOCSIFHWADDR", (long)Unix.NetDeviceIoctl.SIOCSIFHWADDR);
        c.Check("SIOCGIFHWADDR", (long)Unix.NetDeviceIoctl.SIOCGIFHWADDR);
        c.Check("SIOCGIFINDEX", (long)Unix.NetDeviceIoctl.SIOCGIFINDEX);
        c.Check("SIOCBRADDIF", (long)Unix.NetDeviceIoctl.SIOCBRADDIF);
        c.Check("SIOCBRDELIF", (long)Unix.NetDeviceIoctl.SIOCBRDELIF);
        c.Check("IFF_UP", Unix.NetDeviceIoctl.IFF_UP);
        c.Check("IFNAMSIZ", Unix.NetDeviceIoctl.IFNAMSIZ);
        c.Check("ARPHRD_ETHER", Unix.NetDeviceIoctl.ARPHRD_ETHER);
        c.Check("AF_INET", Unix.NetDeviceIoctl.AF_INET);
        c.Check("SOCK_DGRAM", Unix.NetDeviceIoctl.SOCK_DGRAM);
        c.Check("CLONE_NEWNET", Unix.NetDeviceIoctl.CLONE_NEWNET);
        c.Check("sizeof(struct ifreq)", Marshal.SizeOf<Unix.IfReq>());
        c.Check("offsetof(struct ifreq, ifr_name)", Offset(nameof(Unix.IfReq.Name)));
        c.Check("offsetof(struct ifreq, ifr_flags)", Offset(nameof(Unix.IfReq.Flags)));
        c.Check("offsetof(struct ifreq, ifr_mtu)", Offset(nameof(Unix.IfReq.Value)));
        c.Check("offsetof(struct ifreq, ifr_ifindex)", Offset(nameof(Unix.IfReq.Value)));
        c.Check("offsetof(struct ifreq, ifr_hwaddr.sa_family)", Offset(nameof(Unix.IfReq.AddressFamily)));
        c.Check("offsetof(struct ifreq, ifr_hwaddr.sa_data)", Offset(nameof(Unix.IfReq.AddressData)));
        c.Check("offsetof(struct ifreq, ifr_addr.sa_family)", Offset(nameof(Unix.IfReq.AddressFamily)));
        c.Check("offsetof(struct ifreq, ifr_addr) + offsetof(struct sockaddr_in, sin_addr)", Offset(nameof(Unix.IfReq.InetAddress)));
        c.Check("sizeof(((struct ifreq *)0)->ifr_hwaddr.sa_data)", 14);
        c.Check("EBADFD", Unix.Errno.EBADFD);
        c.Check("EMSGSIZE", Unix.Errno.EMSGSIZE);
        c.Check("EADDRNOTAVAIL", Unix.Errno.EADDRNOTAVAIL);
        c.Check("ENODEV", Unix.Errno.ENODEV);
        c.Check("EBUSY", Unix.Errno.EBUSY);
        c.Check("EINVAL", Unix.Errno.EINVAL);
        c.Check("EPERM", Unix.Errno.EPERM);
        c.Check("EAGAIN", Unix.Errno.EAGAIN);
        c.Check("EOPNOTSUPP", Unix.Errno.EOPNOTSUPP);

        c.AssertAllMatch();
    }
}
