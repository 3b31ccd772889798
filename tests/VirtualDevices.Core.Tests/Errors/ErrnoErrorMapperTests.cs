using VirtualDevices.Interop;

namespace VirtualDevices.Tests.Errors;

/// <summary>The host's errno values as the module's errors.</summary>
public sealed class ErrnoErrorMapperTests
{
    [Fact]
    public void AFailedOpenSaysWhatIsWrongWithThePath()
    {
        Assert.IsType<DeviceNotFoundException>(ErrnoErrorMapper.ToOpenException(Unix.Errno.ENOENT, "/x.img"));
        foreach (int errno in new[] { Unix.Errno.EACCES, Unix.Errno.EPERM, Unix.Errno.EROFS })
        {
            DeviceException denied = ErrnoErrorMapper.ToOpenException(errno, "/x.img");
            Assert.Equal((DeviceErrorIds.Device.AccessDenied, DeviceErrorCategory.PermissionDenied, "/x.img"), (denied.ErrorId, denied.Category, denied.DeviceName));
            Assert.Contains($"(errno {errno})", denied.Message, StringComparison.Ordinal);
        }

        Assert.Equal(DeviceErrorIds.Device.NotBlockCapable, ErrnoErrorMapper.ToOpenException(Unix.Errno.EISDIR, "/tmp").ErrorId);
        BlockIOException other = Assert.IsType<BlockIOException>(ErrnoErrorMapper.ToOpenException(Unix.Errno.EIO, "/x.img"));
        Assert.Equal((Unix.Errno.EIO, "open"), (other.ErrorNumber, other.Operation));
    }

    [Fact]
    public void AFailedCallIsAnIOErrorWithItsErrno()
    {
        BlockIOException read = ErrnoErrorMapper.ToException(Unix.Errno.EIO, "d", "read", "at byte 4096");
        Assert.Equal((DeviceErrorIds.Block.IOError, DeviceErrorCategory.ReadError, Unix.Errno.EIO), (read.ErrorId, read.Category, read.ErrorNumber));
        Assert.Contains("read failed: at byte 4096: ", read.Message, StringComparison.Ordinal);
        Assert.EndsWith($"(errno {Unix.Errno.EIO})", read.Message, StringComparison.Ordinal);
        BlockIOException flush = ErrnoErrorMapper.ToException(Unix.Errno.ENOSPC, "d", "flush");
        Assert.Equal(DeviceErrorCategory.WriteError, flush.Category);
        Assert.Contains("flush failed: ", flush.Message, StringComparison.Ordinal);
    }
}
