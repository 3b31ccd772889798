using VirtualDevices.Nbd.Protocol;

namespace VirtualDevices.Tests.Errors;

/// <summary>NBD error values both ways: what the server replies for a failure, what the client makes of a reply.</summary>
public sealed class NbdErrorMapperTests
{
    private const long ExportSize = 1 << 20;

    private static DeviceException ToClient(int errno, NbdCommand command = NbdCommand.Write, long offset = 0, long length = 512,
        NbdCommandFlags flags = NbdCommandFlags.None, string? message = null) =>
        NbdErrorMapper.ToException(errno, message, "nbd0", command, flags, offset, length, 512, ExportSize);

    [Fact]
    public void TheServerRepliesWithTheValueOfEachFailure()
    {
        Assert.Equal((NbdErrno.EPERM, "read-only"), NbdErrorMapper.FromException(new BlockReadOnlyException("d", "write")));
        Assert.Equal(NbdErrno.EINVAL, NbdErrorMapper.FromException(new BlockOutOfRangeException("d", 10, 1, 8)).Errno);
        Assert.Equal(NbdErrno.EINVAL, NbdErrorMapper.FromException(new BlockMisalignedException("d", "length 100", 512)).Errno);
        Assert.Equal(NbdErrno.ENOTSUP, NbdErrorMapper.FromException(new DeviceUnimplementedException("d", "trim")).Errno);
        Assert.Equal(NbdErrno.ENOSPC, NbdErrorMapper.FromException(new BlockIOException("d", "write", "full", NbdErrno.ENOSPC)).Errno);
        Assert.Equal(NbdErrno.ENOMEM, NbdErrorMapper.FromException(new BlockIOException("d", "write", "no memory", NbdErrno.ENOMEM)).Errno);
        Assert.Equal(NbdErrno.EIO, NbdErrorMapper.FromException(new BlockIOException("d", "read", "bad sector", NbdErrno.EIO)).Errno);
        Assert.Equal(NbdErrno.ESHUTDOWN, NbdErrorMapper.FromException(new DeviceDisconnectedException("d")).Errno);
        Assert.Equal(NbdErrno.EIO, NbdErrorMapper.FromException(new InvalidOperationException("a defect")).Errno);
        var io = new BlockIOException("d", "read", "bad sector", NbdErrno.EIO);
        Assert.Equal(io.Message, NbdErrorMapper.FromException(io).Message);
    }

    [Fact]
    public void TheClientMakesAnExceptionOfEachValue()
    {
        Assert.IsType<BlockReadOnlyException>(ToClient(NbdErrno.EPERM));
        Assert.IsType<BlockReadOnlyException>(ToClient(NbdErrno.EROFS));
        Assert.IsType<DeviceDisconnectedException>(ToClient(NbdErrno.ESHUTDOWN));
        Assert.Equal("write", Assert.IsType<DeviceUnimplementedException>(ToClient(NbdErrno.ENOTSUP)).Operation);
        Assert.Equal("fast zeroing", Assert.IsType<DeviceUnimplementedException>(ToClient(NbdErrno.ENOTSUP, NbdCommand.WriteZeroes, flags: NbdCommandFlags.FastZero)).Operation);

        // EINVAL is out of range only for a request that really ends past the export; otherwise the server found it invalid.
        BlockOutOfRangeException range = Assert.IsType<BlockOutOfRangeException>(ToClient(NbdErrno.EINVAL, offset: ExportSize - 512, length: 1024));
        Assert.Equal((ExportSize - 512) / 512, range.Sector);
        DeviceException invalid = ToClient(NbdErrno.EINVAL, NbdCommand.Trim, offset: 4096, message: "unknown flags");
        Assert.Equal(DeviceErrorIds.Nbd.InvalidRequest, invalid.ErrorId);
        Assert.Equal(DeviceErrorCategory.InvalidArgument, invalid.Category);
        Assert.Contains("trim request at byte 4096", invalid.Message, StringComparison.Ordinal);
        Assert.Contains("EINVAL: unknown flags", invalid.Message, StringComparison.Ordinal);
        Assert.Equal(DeviceErrorIds.Nbd.InvalidRequest, ToClient(NbdErrno.EOVERFLOW).ErrorId);

        BlockIOException io = Assert.IsType<BlockIOException>(ToClient(NbdErrno.EIO, NbdCommand.Read, message: "bad sector"));
        Assert.Equal((NbdErrno.EIO, "read", DeviceErrorCategory.ReadError), (io.ErrorNumber, io.Operation, io.Category));
        Assert.Contains("EIO: bad sector", io.Message, StringComparison.Ordinal);
        Assert.Equal(NbdErrno.ENOSPC, Assert.IsType<BlockIOException>(ToClient(NbdErrno.ENOSPC)).ErrorNumber);
        Assert.Contains("error 99", Assert.IsType<BlockIOException>(ToClient(99)).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void EachFailureThatBothRolesKnowSurvivesTheTrip()
    {
        DeviceException[] failures =
        [
            new BlockReadOnlyException("d", "write"),
            new DeviceUnimplementedException("d", "write"),
            new DeviceDisconnectedException("d"),
            new BlockIOException("d", "write", "full", NbdErrno.ENOSPC),
            new BlockIOException("d", "write", "no memory", NbdErrno.ENOMEM),
            new BlockIOException("d", "write", "bad sector", NbdErrno.EIO),
        ];
        foreach (DeviceException failure in failures)
        {
            DeviceException back = ToClient(NbdErrorMapper.FromException(failure).Errno);
            Assert.Equal(failure.GetType(), back.GetType());
            Assert.Equal(failure.ErrorId, back.ErrorId);
            Assert.Equal(failure.Category, back.Category);
        }

        // A range the server refuses comes back as out of range when it really is past the end.
        Assert.IsType<BlockOutOfRangeException>(ToClient(NbdErrorMapper.FromException(new BlockOutOfRangeException("d", 2048, 1, 2048)).Errno, offset: ExportSize, length: 512));
    }

    [Fact]
    public void OperationsAreNamedAsTheMessagesSayThem()
    {
        Assert.Equal("write-zeroes", NbdErrorMapper.OperationName(NbdCommand.WriteZeroes));
        Assert.Equal("block-status", NbdErrorMapper.OperationName(NbdCommand.BlockStatus));
        Assert.Equal("read", NbdErrorMapper.OperationName(NbdCommand.Read));
    }
}
