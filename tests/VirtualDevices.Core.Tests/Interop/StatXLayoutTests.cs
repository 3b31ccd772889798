using System.Globalization;
using System.Runtime.InteropServices;
using VirtualDevices.Interop;
using VirtualDevices.Tests.Infrastructure;

namespace VirtualDevices.Tests.Interop;

/// <summary>The statx binding (socket files are told from other files with it) checked against the C headers.</summary>
public sealed class StatXLayoutTests : IDisposable
{
    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    [Fact]
    public async Task StatXConstantsAndLayoutMatchTheCHeaders()
    {
        Assert.True(OperatingSystem.IsLinux(), "the header check runs on Linux");
        const string source = """
            #define _GNU_SOURCE
            #include <fcntl.h>
            #include <stddef.h>
            #include <stdio.h>
            #include <sys/stat.h>
            #define P(name) printf(#name "=%lld\n", (long long)(name))
            int main(void) {
                P(AT_FDCWD); P(AT_SYMLINK_NOFOLLOW); P(STATX_TYPE); P(STATX_INO);
                P(S_IFMT); P(S_IFSOCK); P(S_IFLNK); P(S_IFREG); P(S_IFBLK); P(S_IFDIR); P(S_IFCHR); P(S_IFIFO);
                P(sizeof(struct statx)); P(offsetof(struct statx, stx_mask)); P(offsetof(struct statx, stx_mode));
                P(offsetof(struct statx, stx_ino)); P(offsetof(struct statx, stx_dev_major)); P(offsetof(struct statx, stx_dev_minor));
                return 0;
            }
            """;
        string program = await CCompiler.CompileAsync(_temp.Path, "statx", source);
        ProcessResult result = (await ExternalProcess.RunAsync(program, [])).EnsureSuccess("statx");
        Dictionary<string, long> c = result.StandardOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(line => line.Split('='))
            .ToDictionary(parts => parts[0], parts => long.Parse(parts[1], CultureInfo.InvariantCulture));

        void Check(string name, long binding) => Assert.True(c[name] == binding, $"{name}: the header says {c[name]}, the binding uses {binding}");
        Check("AT_FDCWD", Unix.AT_FDCWD);
        Check("AT_SYMLINK_NOFOLLOW", Unix.AT_SYMLINK_NOFOLLOW);
        Check("STATX_TYPE", Unix.STATX_TYPE);
        Check("STATX_INO", Unix.STATX_INO);
        Check("S_IFMT", Unix.S_IFMT);
        Check("S_IFSOCK", Unix.S_IFSOCK);
        Check("S_IFLNK", Unix.S_IFLNK);
        Check("S_IFREG", Unix.S_IFREG);
        Check("S_IFBLK", Unix.S_IFBLK);
        Check("S_IFDIR", Unix.S_IFDIR);
        Check("S_IFCHR", Unix.S_IFCHR);
        Check("S_IFIFO", Unix.S_IFIFO);
        Check("sizeof(struct statx)", Marshal.SizeOf<Unix.StatX>());
        Check("offsetof(struct statx, stx_mask)", Marshal.OffsetOf<Unix.StatX>(nameof(Unix.StatX.Mask)).ToInt64());
        Check("offsetof(struct statx, stx_mode)", Marshal.OffsetOf<Unix.StatX>(nameof(Unix.StatX.Mode)).ToInt64());
        Check("offsetof(struct statx, stx_ino)", Marshal.OffsetOf<Unix.StatX>(nameof(Unix.StatX.Inode)).ToInt64());
        Check("offsetof(struct statx, stx_dev_major)", Marshal.OffsetOf<Unix.StatX>(nameof(Unix.StatX.DeviceMajor)).ToInt64());
        Check("offsetof(struct statx, stx_dev_minor)", Marshal.OffsetOf<Unix.StatX>(nameof(Unix.StatX.DeviceMinor)).ToInt64());
    }

    [Fact]
    public void StatXTellsASocketFromOtherFilesAndFindsItsInode()
    {
        string file = _temp.PatternFile("file", 10);
        Assert.Equal(0, Unix.StatXPath(Unix.AT_FDCWD, file, Unix.AT_SYMLINK_NOFOLLOW, Unix.STATX_TYPE | Unix.STATX_INO, out Unix.StatX stat));
        Assert.Equal(Unix.S_IFREG, stat.Mode & Unix.S_IFMT);
        Assert.NotEqual(0UL, stat.Inode);
        string link = _temp.File("link");
        File.CreateSymbolicLink(link, file);
        Assert.Equal(0, Unix.StatXPath(Unix.AT_FDCWD, link, Unix.AT_SYMLINK_NOFOLLOW, Unix.STATX_TYPE, out stat));
        Assert.Equal(Unix.S_IFLNK, stat.Mode & Unix.S_IFMT);
        string socketPath = _temp.File("s.sock");
        using var socket = new System.Net.Sockets.Socket(System.Net.Sockets.AddressFamily.Unix, System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Unspecified);
        socket.Bind(new System.Net.Sockets.UnixDomainSocketEndPoint(socketPath));
        Assert.Equal(0, Unix.StatXPath(Unix.AT_FDCWD, socketPath, Unix.AT_SYMLINK_NOFOLLOW, Unix.STATX_TYPE, out stat));
        Assert.Equal(Unix.S_IFSOCK, stat.Mode & Unix.S_IFMT);
        Assert.Equal(-1, Unix.StatXPath(Unix.AT_FDCWD, _temp.File("none"), Unix.AT_SYMLINK_NOFOLLOW, Unix.STATX_TYPE, out _));
        Assert.Equal(Unix.Errno.ENOENT, Marshal.GetLastPInvokeError());
    }
}
