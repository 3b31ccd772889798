using VirtualDevices.Xen.Xenstore;
using VirtualDevices.Xen.Xenstore.Client;
using VirtualDevices.Xen.Xenstore.Protocol;
using VirtualDevices.Xen.Xenstore.Server;

namespace VirtualDevices.Tests.Errors;

/// <summary>Xenstore error names both ways: the id and category of a daemon's reply, the name a server replies with.</summary>
public sealed class XenstoreErrorMapperTests
{
    /// <summary>The names xenstored sends (xs_wire.h's xsd_errors), and what each becomes.</summary>
    public static TheoryData<string, string, DeviceErrorCategory> Names => new()
    {
        { "ENOENT", DeviceErrorIds.Xenstore.NotFound, DeviceErrorCategory.ObjectNotFound },
        { "EACCES", DeviceErrorIds.Xenstore.AccessDenied, DeviceErrorCategory.PermissionDenied },
        { "EPERM", DeviceErrorIds.Xenstore.AccessDenied, DeviceErrorCategory.PermissionDenied },
        { "EAGAIN", DeviceErrorIds.Xenstore.TransactionConflict, DeviceErrorCategory.ResourceBusy },
        { "E2BIG", DeviceErrorIds.Xenstore.TooBig, DeviceErrorCategory.LimitsExceeded },
        { "ENOSPC", DeviceErrorIds.Xenstore.QuotaExceeded, DeviceErrorCategory.LimitsExceeded },
        { "EQUOTA", DeviceErrorIds.Xenstore.QuotaExceeded, DeviceErrorCategory.LimitsExceeded },
        { "EINVAL", DeviceErrorIds.Xenstore.InvalidArgument, DeviceErrorCategory.InvalidArgument },
        { "EEXIST", DeviceErrorIds.Xenstore.Exists, DeviceErrorCategory.ResourceExists },
        { "EISCONN", DeviceErrorIds.Xenstore.AlreadyConnected, DeviceErrorCategory.ResourceExists },
        { "EBUSY", DeviceErrorIds.Xenstore.Busy, DeviceErrorCategory.ResourceBusy },
        { "ENOSYS", DeviceErrorIds.Xenstore.NotSupported, DeviceErrorCategory.NotImplemented },
        { "ETIMEDOUT", DeviceErrorIds.Xenstore.WaitTimeout, DeviceErrorCategory.OperationTimeout },
        { "ENOTEMPTY", DeviceErrorIds.Xenstore.NotEmpty, DeviceErrorCategory.InvalidArgument },
        { "EROFS", DeviceErrorIds.Xenstore.ReadOnly, DeviceErrorCategory.PermissionDenied },
        { "ENOMEM", DeviceErrorIds.Xenstore.OutOfMemory, DeviceErrorCategory.LimitsExceeded },
        { "EIO", DeviceErrorIds.Xenstore.IOError, DeviceErrorCategory.ReadError },
        { "EISDIR", DeviceErrorIds.Xenstore.IsDirectory, DeviceErrorCategory.InvalidArgument },
        { "EWHATEVER", DeviceErrorIds.Xenstore.Error, DeviceErrorCategory.NotSpecified },
    };

    [Theory]
    [MemberData(nameof(Names))]
    public void AReplyBecomesAnErrorWithItsIdAndCategory(string name, string id, DeviceErrorCategory category)
    {
        XenstoreException e = XenstoreErrorMapper.ToException(name, XenstoreMessageType.Read, "/local/domain/1");
        Assert.Equal((name, id, category, "/local/domain/1"), (e.ErrorName, e.ErrorId, e.Category, e.Path));
        Assert.Equal(id, XenstoreErrorMapper.ToErrorId(name));
        Assert.Equal(category, XenstoreErrorMapper.ToCategory(name));
        Assert.EndsWith($"({name}).", e.Message, StringComparison.Ordinal);
        Assert.Equal(e.ErrorId, new XenstoreException(name, "built directly").ErrorId);
    }

    [Theory]
    [MemberData(nameof(Names))]
    public void AServerRepliesWithTheNameOfAnError(string name, string id, DeviceErrorCategory category)
    {
        _ = id;
        _ = category;
        Assert.Equal(name, XenstoreErrorMapper.FromException(new XenstoreException(name, "failed")));
    }

    [Fact]
    public void OtherFailuresGetTheNameOfTheirCategory()
    {
        Assert.Equal("ENOENT", XenstoreErrorMapper.FromException(new DeviceNotFoundException("x")));
        Assert.Equal("EACCES", XenstoreErrorMapper.FromException(new BlockReadOnlyException("x", "write")));
        Assert.Equal("EINVAL", XenstoreErrorMapper.FromException(new ArgumentException("bad")));
        Assert.Equal("EINVAL", XenstoreErrorMapper.FromException(new FormatException("bad")));
        Assert.Equal("ENOSYS", XenstoreErrorMapper.FromException(new DeviceUnimplementedException("x", "trim")));
        Assert.Equal("EIO", XenstoreErrorMapper.FromException(new InvalidOperationException("a defect")));

        // The category's name comes back as an error of that category.
        foreach (DeviceException e in new DeviceException[] { new DeviceNotFoundException("x"), new BlockMisalignedException("x", "y", 512) })
        {
            Assert.Equal(e.Category, XenstoreErrorMapper.ToCategory(XenstoreErrorMapper.FromException(e)));
        }
    }
}
