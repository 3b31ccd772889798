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
                P(F_ADD_SEALS); P(F_GET_SEALS); P(F_SEAL_SEAL); P(F_SEAL_SHRINK); P(F_SEAL_GROW);
                return 0;
            }
            """;
        string program = await CCompiler.CompileAsync(_temp.Path, "loopback", source);
        ProcessResult result = (await ExternalProcess.RunAsync(program, [])).EnsureSuccess("loopback");
        Dictionary<string, long> c = result.StandardOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(line => line.Split('='))
            .ToDictionary(parts => parts[0], parts => long.Parse(parts[1], CultureInfo.InvariantCulture));

        unsafe
        {
            Check(c, "sizeof(struct msghdr)", sizeof(Unix.MsgHdr));
            Check(c, "sizeof(struct cmsghdr)", sizeof(Unix.CMsgHdr));
            Check(c, "(char *)CMSG_DATA(&c.h) - (char *)&c.h", sizeof(Unix.CMsgHdr));
        }

        Check(c, "offsetof(struct msghdr, msg_name)", Offset<Unix.MsgHdr>(nameof(Unix.MsgHdr.Name)));
        Check(c, "offsetof(struct msghdr, msg_namelen)", Offset<Unix.MsgHdr>(nameof(Unix.MsgHdr.NameLength)));
        Check(c, "offsetof(struct msghdr, msg_iov)", Offset<Unix.MsgHdr>(nameof(Unix.MsgHdr.Iov)));
        Check(c, "offsetof(struct msghdr, msg_iovlen)", Offset<Unix.MsgHdr>(nameof(Unix.MsgHdr.IovLength)));
        Check(c, "offsetof(struct msghdr, msg_control)", Offset<Unix.MsgHdr>(nameof(Unix.MsgHdr.Control)));
        Check(c, "offsetof(struct msghdr, msg_controllen)", Offset<Unix.MsgHdr>(nameof(Unix.MsgHdr.ControlLength)));
        Check(c, "offsetof(struct msghdr, msg_flags)", Offset<Unix.MsgHdr>(nameof(Unix.MsgHdr.Flags)));
        Check(c, "offsetof(struct cmsghdr, cmsg_len)", Offset<Unix.CMsgHdr>(nameof(Unix.CMsgHdr.Length)));
        Check(c, "offsetof(struct cmsghdr, cmsg_level)", Offset<Unix.CMsgHdr>(nameof(Unix.CMsgHdr.Level)));
        Check(c, "offsetof(struct cmsghdr, cmsg_type)", Offset<Unix.CMsgHdr>(nameof(Unix.CMsgHdr.Type)));
        Check(c, "CMSG_LEN(sizeof(int))", Unix.CmsgLength(sizeof(int)));
        Check(c, "CMSG_SPACE(sizeof(int))", Unix.CmsgSpace(sizeof(int)));
        Check(c, "CMSG_LEN(4 * sizeof(int))", Unix.CmsgLength(4 * sizeof(int)));
        Check(c, "CMSG_SPACE(4 * sizeof(int))", Unix.CmsgSpace(4 * sizeof(int)));
        Check(c, "CMSG_SPACE(3 * sizeof(int))", Unix.CmsgSpace(3 * sizeof(int)));
        Check(c, "SCM_RIGHTS", Unix.SCM_RIGHTS);
        Check(c, "SOL_SOCKET", Unix.SOL_SOCKET);
        Check(c, "MSG_CMSG_CLOEXEC", Unix.MSG_CMSG_CLOEXEC);
        Check(c, "MSG_TRUNC", Unix.MSG_TRUNC);
        Check(c, "MSG_CTRUNC", Unix.MSG_CTRUNC);
        Check(c, "MSG_NOSIGNAL", Unix.MSG_NOSIGNAL);
        Check(c, "MSG_DONTWAIT", Unix.MSG_DONTWAIT);
        Check(c, "SOCK_SEQPACKET", Unix.SOCK_SEQPACKET);
        Check(c, "AF_UNIX", Unix.AF_UNIX);
        Check(c, "SOCK_CLOEXEC", Unix.SOCK_CLOEXEC);
        Check(c, "MFD_CLOEXEC", Unix.MFD_CLOEXEC);
        Check(c, "MFD_ALLOW_SEALING", Unix.MFD_ALLOW_SEALING);
        Check(c, "PROT_NONE", Unix.PROT_NONE);
        Check(c, "PROT_READ", Unix.PROT_READ);
        Check(c, "PROT_WRITE", Unix.PROT_WRITE);
        Check(c, "MAP_SHARED", Unix.MAP_SHARED);
        Check(c, "MAP_PRIVATE", Unix.MAP_PRIVATE);
        Check(c, "MAP_FIXED", Unix.MAP_FIXED);
        Check(c, "MAP_ANONYMOUS", Unix.MAP_ANONYMOUS);
        Check(c, "EFD_CLOEXEC", Unix.EFD_CLOEXEC);
        Check(c, "EFD_NONBLOCK", Unix.EFD_NONBLOCK);
        Check(c, "F_ADD_SEALS", Unix.F_ADD_SEALS);
        Check(c, "F_GET_SEALS", Unix.F_GET_SEALS);
        Check(c, "F_SEAL_SEAL", Unix.F_SEAL_SEAL);
        Check(c, "F_SEAL_SHRINK", Unix.F_SEAL_SHRINK);
        Check(c, "F_SEAL_GROW", Unix.F_SEAL_GROW);
    }

    private static long Offset<T>(string field) => System.Runtime.InteropServices.Marshal.OffsetOf<T>(field).ToInt64();

    private static void Check(Dictionary<string, long> header, string name, long binding) =>
        Assert.True(header[name] == binding, $"{name}: the header says {header[name]}, the binding uses {binding}");
}
