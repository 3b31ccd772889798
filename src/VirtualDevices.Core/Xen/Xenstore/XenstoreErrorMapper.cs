using VirtualDevices.Xen.Xenstore.Protocol;

namespace VirtualDevices.Xen.Xenstore;

/// <summary>
/// The one translation between xenstore's error names (the errno names xenstored sends in an ERROR reply:
/// <c>ENOENT</c>, <c>EACCES</c>...) and the module's errors, both ways: a client turns a reply into a
/// <see cref="XenstoreException"/> (<see cref="ToException"/>, with its id from <see cref="ToErrorId"/>), a server
/// turns a failure into the name it replies with (<see cref="FromException"/>).
/// </summary>
/// <remarks>
/// The same shape as the other protocol mappers (<see cref="ErrnoErrorMapper"/>, <c>Nbd.Protocol.NbdErrorMapper</c>);
/// the Xen ring protocols (blkif and netif statuses, grant errors) get theirs beside their protocol the same way.
/// </remarks>
public static class XenstoreErrorMapper
{
    /// <summary>The stable error id of an error name (<see cref="DeviceErrorIds.Xenstore"/>).</summary>
    /// <param name="errorName">The errno name, as xenstored sends it.</param>
    public static string ToErrorId(string errorName) => errorName switch
    {
        "ENOENT" => DeviceErrorIds.Xenstore.NotFound,
        "EACCES" or "EPERM" => DeviceErrorIds.Xenstore.AccessDenied,
        "EAGAIN" => DeviceErrorIds.Xenstore.TransactionConflict,
        "E2BIG" => DeviceErrorIds.Xenstore.TooBig,
        "ENOSPC" or "EQUOTA" => DeviceErrorIds.Xenstore.QuotaExceeded,
        "EINVAL" => DeviceErrorIds.Xenstore.InvalidArgument,
        "EEXIST" => DeviceErrorIds.Xenstore.Exists,
        "EISCONN" => DeviceErrorIds.Xenstore.AlreadyConnected,
        "EBUSY" => DeviceErrorIds.Xenstore.Busy,
        "ENOSYS" => DeviceErrorIds.Xenstore.NotSupported,
        "ETIMEDOUT" => DeviceErrorIds.Xenstore.WaitTimeout,
        "ENOTEMPTY" => DeviceErrorIds.Xenstore.NotEmpty,
        "EROFS" => DeviceErrorIds.Xenstore.ReadOnly,
        "ENOMEM" => DeviceErrorIds.Xenstore.OutOfMemory,
        "EIO" => DeviceErrorIds.Xenstore.IOError,
        "EISDIR" => DeviceErrorIds.Xenstore.IsDirectory,
        _ => DeviceErrorIds.Xenstore.Error,
    };

    /// <summary>The category of an error name.</summary>
    /// <param name="errorName">The errno name.</param>
    public static DeviceErrorCategory ToCategory(string errorName) => errorName switch
    {
        "ENOENT" => DeviceErrorCategory.ObjectNotFound,
        "EACCES" or "EPERM" or "EROFS" => DeviceErrorCategory.PermissionDenied,
        "EAGAIN" or "EBUSY" => DeviceErrorCategory.ResourceBusy,
        "E2BIG" or "ENOSPC" or "EQUOTA" or "ENOMEM" => DeviceErrorCategory.LimitsExceeded,
        "EINVAL" or "EISDIR" or "ENOTEMPTY" => DeviceErrorCategory.InvalidArgument,
        "EEXIST" or "EISCONN" => DeviceErrorCategory.ResourceExists,
        "ENOSYS" => DeviceErrorCategory.NotImplemented,
        "ETIMEDOUT" => DeviceErrorCategory.OperationTimeout,
        "EIO" => DeviceErrorCategory.ReadError,
        _ => DeviceErrorCategory.NotSpecified,
    };

    /// <summary>A few words for the user about an error name.</summary>
    /// <param name="errorName">The errno name.</param>
    public static string Describe(string errorName) => errorName switch
    {
        "ENOENT" => "no such node",
        "EACCES" => "permission denied",
        "EPERM" => "operation not permitted",
        "EAGAIN" => "the transaction conflicted with another change",
        "E2BIG" => "too big",
        "ENOSPC" or "EQUOTA" => "quota exceeded",
        "EINVAL" => "invalid argument",
        "EEXIST" => "already exists",
        "EISCONN" => "already connected",
        "EBUSY" => "busy",
        "ENOSYS" => "not supported by the daemon",
        "ETIMEDOUT" => "timed out",
        _ => "error",
    };

    /// <summary>The error of a daemon's ERROR reply to a request.</summary>
    /// <param name="errorName">The error name of the reply.</param>
    /// <param name="request">The request it answers.</param>
    /// <param name="path">The node of the request, when there is one.</param>
    public static XenstoreException ToException(string errorName, XenstoreMessageType request, string? path) =>
        new(errorName, path is null
            ? $"xenstore {request} failed: {Describe(errorName)} ({errorName})."
            : $"xenstore {request} '{path}' failed: {Describe(errorName)} ({errorName}).", path);

    /// <summary>
    /// The error name a server replies with for a failure: a <see cref="XenstoreException"/>'s own name; for another
    /// error of the module, the name of its category (a missing object is ENOENT, a refusal EACCES...); an
    /// <see cref="ArgumentException"/> or <see cref="FormatException"/> is EINVAL; anything else EIO.
    /// </summary>
    /// <param name="error">The failure.</param>
    public static string FromException(Exception error) => error switch
    {
        XenstoreException e => e.ErrorName,
        DeviceException e => e.Category switch
        {
            DeviceErrorCategory.ObjectNotFound => "ENOENT",
            DeviceErrorCategory.PermissionDenied => "EACCES",
            DeviceErrorCategory.ResourceBusy => "EAGAIN",
            DeviceErrorCategory.LimitsExceeded => "ENOSPC",
            DeviceErrorCategory.InvalidArgument => "EINVAL",
            DeviceErrorCategory.ResourceExists => "EEXIST",
            DeviceErrorCategory.NotImplemented => "ENOSYS",
            DeviceErrorCategory.OperationTimeout => "ETIMEDOUT",
            _ => "EIO",
        },
        ArgumentException or FormatException => "EINVAL",
        _ => "EIO",
    };
}
