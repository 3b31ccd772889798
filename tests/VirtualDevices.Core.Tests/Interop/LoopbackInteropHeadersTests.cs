using System.Globalization;
using VirtualDevices.Interop;
using VirtualDevices.Tests.Infrastructure;

namespace VirtualDevices.Tests.Interop;

/// <summary>
/// The constants and struct layouts the loopback hypervisor binds (sendmsg/recvmsg with SCM_RIGHTS, memfd_create,
/// ftruncate, mmap's reservation flags, seqpacket sockets), checked against the C headers by compiling C.
/// </summary>
public sealed class LoopbackInteropHeadersTests : IDisposable
{
    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    [Fact]
    public async Task TheLoopbackBindingsMatchTheCHeaders()
    {
        Assert.True(OperatingSystem.IsLinux(), "the header check runs on Linux");
        const string source = """
            #define _GNU_SOURCE
            #include <fcntl.h>
            #include <stddef.h>
            #include <stdio.h>
            #include <sys/mman.h>
            #include <sys/socket.h>
            #include <sys/eventfd.h>
            #define P(name) printf(#name "=%lld\n", (long long)(name))
            int main(void) {
                P(sizeof(struct msghdr)); P(offsetof(struct msghdr, msg_name)); P(offsetof(struct msghdr, msg_namelen));
                P(offsetof(struct msghdr, msg_iov)); P(offsetof(struct msghdr, msg_iovlen)); P(offsetof(struct msghdr, msg_control));
                P(offsetof(struct msghdr, msg_controllen)); P(offsetof(struct msghdr, msg_flags));
                P(sizeof(struct cmsghdr)); P(offsetof(struct cmsghdr, cmsg_len)); P(offsetof(struct cmsghdr, cmsg_level));
                P(offsetof(struct cmsghdr, cmsg_type));
                struct { struct cmsghdr h; int fds[4]; } c;
                P((char *)CMSG_DATA(&c.h) - (char *)&c.h);
                P(CMSG_LEN(sizeof(int))); P(CMSG_SPACE(sizeof(int))); P(CMSG_LEN(4 * sizeof(int))); P(CMSG_SPACE(4 * sizeof(int)));
                P(CMSG_SPACE(3 * sizeof(int)));
                P(SCM_RIGHTS); P(SOL_SOCKET); P(MSG_CMSG_CLOEXEC); P(MSG_TRUNC); P(MSG_CTRUNC); P(MSG_NOSIGNAL); P(MSG_DONTWAIT);
                P(SOCK_SEQPACKET); P(AF_UNIX); P(SOCK_CLOEXEC);
                P(MFD_CLOEXEC); P(MFD_ALLOW_SEALING);
                P(PROT_NONE); P(PROT_READ); P(PROT_WRITE); P(MAP_SHARED); P(MAP_PRIVATE); P(MAP_FIXED); P(MAP_ANONYMOUS);
                P(EFD_CLOEXEC); P(EFD_NONBLOCK);
                P(F_ADD_SEALS); P(F_GET_SEALS); P(F_SEAL_SEAL); P(F_SEAL_SHRINK); P(F_SEAL_GROW); P(F_DUPFD_CLOEXEC);
                return 0;
            }
            """;
        CHeaderValues c = await CHeaderValues.CompileAndRunAsync(_temp.Path, "loopback", source);

        unsafe
        {
            c.Check("sizeof(struct msghdr)", sizeof(Unix.MsgHdr));
            c.Check("sizeof(struct cmsghdr)", sizeof(Unix.CMsgHdr));
            c.Check("(char *)CMSG_DATA(&c.h) - (char *)&c.h", sizeof(Unix.CMsgHdr));
        }

        c.Check("offsetof(struct msghdr, msg_name)", Offset<Unix.MsgHdr>(nameof(Unix.MsgHdr.Name)));
        c.Check("offsetof(struct msghdr, msg_namelen)", Offset<Unix.MsgHdr>(nameof(Unix.MsgHdr.NameLength)));
        c.Check("offsetof(struct msghdr, msg_iov)", Offset<Unix.MsgHdr>(nameof(Unix.MsgHdr.Iov)));
        c.Check("offsetof(struct msghdr, msg_iovlen)", Offset<Unix.MsgHdr>(nameof(Unix.MsgHdr.IovLength)));
        c.Check("offsetof(struct msghdr, msg_control)", Offset<Unix.MsgHdr>(nameof(Unix.MsgHdr.Control)));
        c.Check("offsetof(struct msghdr, msg_controllen)", Offset<Unix.MsgHdr>(nameof(Unix.MsgHdr.ControlLength)));
        c.Check("offsetof(struct msghdr, msg_flags)", Offset<Unix.MsgHdr>(nameof(Unix.MsgHdr.Flags)));
        c.Check("offsetof(struct cmsghdr, cmsg_len)", Offset<Unix.CMsgHdr>(nameof(Unix.CMsgHdr.Length)));
        c.Check("offsetof(struct cmsghdr, cmsg_level)", Offset<Unix.CMsgHdr>(nameof(Unix.CMsgHdr.Level)));
        c.Check("offsetof(struct cmsghdr, cmsg_type)", Offset<Unix.CMsgHdr>(nameof(Unix.CMsgHdr.Type)));
        c.Check("CMSG_LEN(sizeof(int))", Unix.CmsgLength(sizeof(int)));
        c.Check("CMSG_SPACE(sizeof(int))", Unix.CmsgSpace(sizeof(int)));
        c.Check("CMSG_LEN(4 * sizeof(int))", Unix.CmsgLength(4 * sizeof(int)));
        c.Check("CMSG_SPACE(4 * sizeof(int))", Unix.CmsgSpace(4 * sizeof(int)));
        c.Check("CMSG_SPACE(3 * sizeof(int))", Unix.CmsgSpace(3 * sizeof(int)));
        c.Check("SCM_RIGHTS", Unix.SCM_RIGHTS);
        c.Check("SOL_SOCKET", Unix.SOL_SOCKET);
        c.Check("MSG_CMSG_CLOEXEC", Unix.MSG_CMSG_CLOEXEC);
        c.Check("MSG_TRUNC", Unix.MSG_TRUNC);
        c.Check("MSG_CTRUNC", Unix.MSG_CTRUNC);
        c.Check("MSG_NOSIGNAL", Unix.MSG_NOSIGNAL);
        c.Check("MSG_DONTWAIT", Unix.MSG_DONTWAIT);
        c.Check("SOCK_SEQPACKET", Unix.SOCK_SEQPACKET);
        c.Check("AF_UNIX", Unix.AF_UNIX);
        c.Check("SOCK_CLOEXEC", Unix.SOCK_CLOEXEC);
        c.Check("MFD_CLOEXEC", Unix.MFD_CLOEXEC);
        c.Check("MFD_ALLOW_SEALING", Unix.MFD_ALLOW_SEALING);
        c.Check("PROT_NONE", Unix.PROT_NONE);
        c.Check("PROT_READ", Unix.PROT_READ);
        c.Check("PROT_WRITE", Unix.PROT_WRITE);
        c.Check("MAP_SHARED", Unix.MAP_SHARED);
        c.Check("MAP_PRIVATE", Unix.MAP_PRIVATE);
        c.Check("MAP_FIXED", Unix.MAP_FIXED);
        c.Check("MAP_ANONYMOUS", Unix.MAP_ANONYMOUS);
        c.Check("EFD_CLOEXEC", Unix.EFD_CLOEXEC);
        c.Check("EFD_NONBLOCK", Unix.EFD_NONBLOCK);
        c.Check("F_ADD_SEALS", Unix.F_ADD_SEALS);
        c.Check("F_GET_SEALS", Unix.F_GET_SEALS);
        c.Check("F_SEAL_SEAL", Unix.F_SEAL_SEAL);
        c.Check("F_SEAL_SHRINK", Unix.F_SEAL_SHRINK);
        c.Check("F_SEAL_GROW", Unix.F_SEAL_GROW);
        c.Check("F_DUPFD_CLOEXEC", Unix.F_DUPFD_CLOEXEC);

        c.AssertAllMatch();
    }

    private static long Offset<T>(string field) => System.Runtime.InteropServices.Marshal.OffsetOf<T>(field).ToInt64();
}
