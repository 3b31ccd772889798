using System.Globalization;
using VirtualDevices.Interop;
using VirtualDevices.Tests.Infrastructure;

namespace VirtualDevices.Tests.Interop;

/// <summary>
/// Every constant, ioctl number and struct layout the libc bindings use, checked against the C headers by
/// compiling and running a C program that prints the real values.
/// </summary>
public sealed class LibcConstantsTests : IDisposable
{
    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    private static void Check(Dictionary<string, long> header, string name, long binding) =>
        Assert.True(header[name] == binding, $"{name}: the header says {header[name]}, the binding uses {binding}");

    [Fact]
    public async Task ConstantsMatchTheCHeaders()
    {
        Assert.True(OperatingSystem.IsLinux(), "the header check runs on Linux");
        const string source = """
            #define _GNU_SOURCE
            #include <errno.h>
            #include <fcntl.h>
            #include <limits.h>
            #include <stddef.h>
            #include <stdio.h>
            #include <unistd.h>
            #include <sys/ioctl.h>
            #include <sys/socket.h>
            #include <sys/uio.h>
            #include <linux/falloc.h>
            #include <linux/fs.h>
            #define P(name) printf(#name "=%lld\n", (long long)(name))
            int main(void) {
                P(O_RDONLY); P(O_WRONLY); P(O_RDWR); P(O_CREAT); P(O_EXCL); P(O_CLOEXEC); P(O_DIRECT);
                P(SEEK_SET); P(SEEK_END); P(SEEK_DATA); P(SEEK_HOLE);
                P(FALLOC_FL_KEEP_SIZE); P(FALLOC_FL_PUNCH_HOLE); P(FALLOC_FL_ZERO_RANGE); P(RWF_DSYNC);
                P(BLKGETSIZE64); P(BLKSSZGET); P(BLKPBSZGET); P(BLKROGET); P(BLKDISCARD); P(BLKZEROOUT);
                P(IOV_MAX); P(sizeof(struct iovec)); P(offsetof(struct iovec, iov_base)); P(offsetof(struct iovec, iov_len));
                P(EPERM); P(ENOENT); P(EINTR); P(EIO); P(ENXIO); P(EBADF); P(EACCES); P(EEXIST); P(EISDIR); P(EINVAL);
                P(ENOTTY); P(ENOSPC); P(EROFS); P(EAGAIN); P(ENOSYS); P(EOPNOTSUPP); P(ENOTSUP);
                P(AF_UNIX); P(SOCK_STREAM); P(SOCK_CLOEXEC); P(SOL_SOCKET); P(SO_REUSEADDR);
                P(SYNC_FILE_RANGE_WAIT_BEFORE); P(SYNC_FILE_RANGE_WRITE); P(SYNC_FILE_RANGE_WAIT_AFTER); P(POSIX_FADV_DONTNEED);
                return 0;
            }
            """;
        string program = await CCompiler.CompileAsync(_temp.Path, "constants", source);
        ProcessResult result = (await ExternalProcess.RunAsync(program, [])).EnsureSuccess("constants");
        Dictionary<string, long> c = result.StandardOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(line => line.Split('='))
            .ToDictionary(parts => parts[0], parts => long.Parse(parts[1], CultureInfo.InvariantCulture));

        Check(c, "O_RDONLY", Unix.OpenFlags.O_RDONLY);
        Check(c, "O_WRONLY", Unix.OpenFlags.O_WRONLY);
        Check(c, "O_RDWR", Unix.OpenFlags.O_RDWR);
        Check(c, "O_CREAT", Unix.OpenFlags.O_CREAT);
        Check(c, "O_EXCL", Unix.OpenFlags.O_EXCL);
        Check(c, "O_CLOEXEC", Unix.OpenFlags.O_CLOEXEC);
        Check(c, "O_DIRECT", Unix.OpenFlags.O_DIRECT);
        Check(c, "SEEK_SET", Unix.SEEK_SET);
        Check(c, "SEEK_END", Unix.SEEK_END);
        Check(c, "SEEK_DATA", Unix.SEEK_DATA);
        Check(c, "SEEK_HOLE", Unix.SEEK_HOLE);
        Check(c, "FALLOC_FL_KEEP_SIZE", Unix.FALLOC_FL_KEEP_SIZE);
        Check(c, "FALLOC_FL_PUNCH_HOLE", Unix.FALLOC_FL_PUNCH_HOLE);
        Check(c, "FALLOC_FL_ZERO_RANGE", Unix.FALLOC_FL_ZERO_RANGE);
        Check(c, "RWF_DSYNC", Unix.RWF_DSYNC);
        Check(c, "BLKGETSIZE64", (long)Unix.BlockIoctl.BLKGETSIZE64);
        Check(c, "BLKSSZGET", (long)Unix.BlockIoctl.BLKSSZGET);
        Check(c, "BLKPBSZGET", (long)Unix.BlockIoctl.BLKPBSZGET);
        Check(c, "BLKROGET", (long)Unix.BlockIoctl.BLKROGET);
        Check(c, "BLKDISCARD", (long)Unix.BlockIoctl.BLKDISCARD);
        Check(c, "BLKZEROOUT", (long)Unix.BlockIoctl.BLKZEROOUT);
        Check(c, "IOV_MAX", Unix.IOV_MAX);
        unsafe
        {
            Check(c, "sizeof(struct iovec)", sizeof(Unix.IOVector));
        }

        Check(c, "offsetof(struct iovec, iov_base)", System.Runtime.InteropServices.Marshal.OffsetOf<Unix.IOVector>(nameof(Unix.IOVector.Base)).ToInt64());
        Check(c, "offsetof(struct iovec, iov_len)", System.Runtime.InteropServices.Marshal.OffsetOf<Unix.IOVector>(nameof(Unix.IOVector.Count)).ToInt64());
        Check(c, "EPERM", Unix.Errno.EPERM);
        Check(c, "ENOENT", Unix.Errno.ENOENT);
        Check(c, "EINTR", Unix.Errno.EINTR);
        Check(c, "EIO", Unix.Errno.EIO);
        Check(c, "ENXIO", Unix.Errno.ENXIO);
        Check(c, "EBADF", Unix.Errno.EBADF);
        Check(c, "EACCES", Unix.Errno.EACCES);
        Check(c, "EEXIST", Unix.Errno.EEXIST);
        Check(c, "EISDIR", Unix.Errno.EISDIR);
        Check(c, "EINVAL", Unix.Errno.EINVAL);
        Check(c, "ENOTTY", Unix.Errno.ENOTTY);
        Check(c, "ENOSPC", Unix.Errno.ENOSPC);
        Check(c, "EROFS", Unix.Errno.EROFS);
        Check(c, "EAGAIN", Unix.Errno.EAGAIN);
        Check(c, "ENOSYS", Unix.Errno.ENOSYS);
        Check(c, "EOPNOTSUPP", Unix.Errno.EOPNOTSUPP);
        Check(c, "ENOTSUP", Unix.Errno.ENOTSUP);
        Check(c, "AF_UNIX", Unix.AF_UNIX);
        Check(c, "SOCK_STREAM", Unix.SOCK_STREAM);
        Check(c, "SOCK_CLOEXEC", Unix.SOCK_CLOEXEC);
        Check(c, "SOL_SOCKET", Unix.SOL_SOCKET);
        Check(c, "SO_REUSEADDR", Unix.SO_REUSEADDR);
        Check(c, "SYNC_FILE_RANGE_WAIT_BEFORE", Unix.SYNC_FILE_RANGE_WAIT_BEFORE);
        Check(c, "SYNC_FILE_RANGE_WRITE", Unix.SYNC_FILE_RANGE_WRITE);
        Check(c, "SYNC_FILE_RANGE_WAIT_AFTER", Unix.SYNC_FILE_RANGE_WAIT_AFTER);
        Check(c, "POSIX_FADV_DONTNEED", Unix.POSIX_FADV_DONTNEED);
    }
}
