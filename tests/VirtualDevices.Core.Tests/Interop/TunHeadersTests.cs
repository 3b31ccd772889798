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
        string program = await CCompiler.CompileAsync(_temp.Path, "tunheaders", source);
        ProcessResult result = (await ExternalProcess.RunAsync(program, [])).EnsureSuccess("tunheaders");
        Dictionary<string, long> c = result.StandardOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(line => line.Split('='))
            .ToDictionary(parts => parts[0], parts => long.Parse(parts[1], CultureInfo.InvariantCulture));
        var mismatches = new List<string>();
        int checkedCount = 0;

        void Check(string name, long binding)
        {
            checkedCount++;
            if (!c.TryGetValue(name, out long header))
            {
                mismatches.Add($"{name}: not printed by the C program");
            }
            else if (header != binding)
            {
                mismatches.Add($"{name}: the header says {header}, the binding uses {binding}");
            }
        }

        long Offset(string field) => Marshal.OffsetOf<Unix.IfReq>(field).ToInt64();

        Check("TUNSETIFF", (long)Unix.TunIoctl.TUNSETIFF);
        Check("TUNSETPERSIST", (long)Unix.TunIoctl.TUNSETPERSIST);
        Check("TUNGETIFF", (long)Unix.TunIoctl.TUNGETIFF);
        Check("IFF_TAP", Unix.TunIoctl.IFF_TAP);
        Check("IFF_NO_PI", Unix.TunIoctl.IFF_NO_PI);
        Check("IFF_MULTI_QUEUE", Unix.TunIoctl.IFF_MULTI_QUEUE);
        Check("IFF_VNET_HDR", Unix.TunIoctl.IFF_VNET_HDR);
        Check("SIOCGIFFLAGS", (long)Unix.NetDeviceIoctl.SIOCGIFFLAGS);
        Check("SIOCSIFFLAGS", (long)Unix.NetDeviceIoctl.SIOCSIFFLAGS);
        Check("SIOCSIFADDR", (long)Unix.NetDeviceIoctl.SIOCSIFADDR);
        Check("SIOCSIFNETMASK", (long)Unix.NetDeviceIoctl.SIOCSIFNETMASK);
        Check("SIOCGIFMTU", (long)Unix.NetDeviceIoctl.SIOCGIFMTU);
        Check("SIOCSIFMTU", (long)Unix.NetDeviceIoctl.SIOCSIFMTU);
        Check("SIOCSIFHWADDR", (long)Unix.NetDeviceIoctl.SIOCSIFHWADDR);
        Check("SIOCGIFHWADDR", (long)Unix.NetDeviceIoctl.SIOCGIFHWADDR);
        Check("SIOCGIFINDEX", (long)Unix.NetDeviceIoctl.SIOCGIFINDEX);
        Check("SIOCBRADDIF", (long)Unix.NetDeviceIoctl.SIOCBRADDIF);
        Check("SIOCBRDELIF", (long)Unix.NetDeviceIoctl.SIOCBRDELIF);
        Check("IFF_UP", Unix.NetDeviceIoctl.IFF_UP);
        Check("IFNAMSIZ", Unix.NetDeviceIoctl.IFNAMSIZ);
        Check("ARPHRD_ETHER", Unix.NetDeviceIoctl.ARPHRD_ETHER);
        Check("AF_INET", Unix.NetDeviceIoctl.AF_INET);
        Check("SOCK_DGRAM", Unix.NetDeviceIoctl.SOCK_DGRAM);
        Check("CLONE_NEWNET", Unix.NetDeviceIoctl.CLONE_NEWNET);
        Check("sizeof(struct ifreq)", Marshal.SizeOf<Unix.IfReq>());
        Check("offsetof(struct ifreq, ifr_name)", Offset(nameof(Unix.IfReq.Name)));
        Check("offsetof(struct ifreq, ifr_flags)", Offset(nameof(Unix.IfReq.Flags)));
        Check("offsetof(struct ifreq, ifr_mtu)", Offset(nameof(Unix.IfReq.Value)));
        Check("offsetof(struct ifreq, ifr_ifindex)", Offset(nameof(Unix.IfReq.Value)));
        Check("offsetof(struct ifreq, ifr_hwaddr.sa_family)", Offset(nameof(Unix.IfReq.AddressFamily)));
        Check("offsetof(struct ifreq, ifr_hwaddr.sa_data)", Offset(nameof(Unix.IfReq.AddressData)));
        Check("offsetof(struct ifreq, ifr_addr.sa_family)", Offset(nameof(Unix.IfReq.AddressFamily)));
        Check("offsetof(struct ifreq, ifr_addr) + offsetof(struct sockaddr_in, sin_addr)", Offset(nameof(Unix.IfReq.InetAddress)));
        Check("sizeof(((struct ifreq *)0)->ifr_hwaddr.sa_data)", 14);
        Check("EBADFD", Unix.Errno.EBADFD);
        Check("EMSGSIZE", Unix.Errno.EMSGSIZE);
        Check("EADDRNOTAVAIL", Unix.Errno.EADDRNOTAVAIL);
        Check("ENODEV", Unix.Errno.ENODEV);
        Check("EBUSY", Unix.Errno.EBUSY);
        Check("EINVAL", Unix.Errno.EINVAL);
        Check("EPERM", Unix.Errno.EPERM);
        Check("EAGAIN", Unix.Errno.EAGAIN);
        Check("EOPNOTSUPP", Unix.Errno.EOPNOTSUPP);

        Assert.True(mismatches.Count == 0, string.Join(Environment.NewLine, mismatches));
        Assert.Equal(c.Count, checkedCount);
    }
}
