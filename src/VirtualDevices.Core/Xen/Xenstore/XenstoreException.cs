using VirtualDevices.Xen.Xenstore.Protocol;

namespace VirtualDevices.Xen.Xenstore;

/// <summary>
/// A xenstore error: an error reply from the daemon (carried by its errno name, such as <c>ENOENT</c>), or a request the
/// client refused to send because the daemon would reject it or drop the connection for it.
/// </summary>
/// <remarks>
/// <see cref="DeviceException.ErrorId"/> is stable per error name (<c>XenstoreNotFound</c> for ENOENT,
/// <c>XenstoreTransactionConflict</c> for EAGAIN...), so the PowerShell layer and callers can branch on it.
/// </remarks>
public sealed class XenstoreException : DeviceException
{
    /// <summary>The device name every xenstore error reports.</summary>
    public const string XenstoreDeviceName = "xenstore";

    /// <summary>Creates an error from an errno name.</summary>
    /// <param name="errorName">The errno name, as xenstored sends it (<c>ENOENT</c>, <c>EACCES</c>...).</param>
    /// <param name="message">A sentence for the user.</param>
    /// <param name="path">The node concerned, when there is one.</param>
    /// <param name="innerException">The underlying error, when there is one.</param>
    public XenstoreException(string errorName, string message, string? path = null, Exception? innerException = null)
        : base(ErrorIdOf(errorName), CategoryOf(errorName), message, XenstoreDeviceName, innerException)
    {
        ErrorName = errorName;
        Path = path;
    }

    /// <summary>The errno name (<c>ENOENT</c>, <c>EACCES</c>, <c>EAGAIN</c>, <c>E2BIG</c>, <c>ENOSPC</c>, <c>EQUOTA</c>...).</summary>
    public string ErrorName { get; }

    /// <summary>The node the request concerned, or <see langword="null"/>.</summary>
    public string? Path { get; }

    /// <summary>True when retrying the whole transaction may succeed (EAGAIN).</summary>
    public bool IsTransactionConflict => ErrorName == "EAGAIN";

    /// <summary>Creates the error for a daemon's error reply.</summary>
    internal static XenstoreException FromReply(string errorName, XenstoreMessageType request, string? path) =>
        new(errorName, path is null
            ? $"xenstore {request} failed: {Describe(errorName)} ({errorName})."
            : $"xenstore {request} '{path}' failed: {Describe(errorName)} ({errorName}).", path);

    /// <summary>The stable error id of an errno name.</summary>
    public static string ErrorIdOf(string errorName) => errorName switch
    {
        "ENOENT" => "XenstoreNotFound",
        "EACCES" or "EPERM" => "XenstoreAccessDenied",
        "EAGAIN" => "XenstoreTransactionConflict",
        "E2BIG" => "XenstoreTooBig",
        "ENOSPC" or "EQUOTA" => "XenstoreQuotaExceeded",
        "EINVAL" => "XenstoreInvalidArgument",
        "EEXIST" => "XenstoreExists",
        "EISCONN" => "XenstoreAlreadyConnected",
        "EBUSY" => "XenstoreBusy",
        "ENOSYS" => "XenstoreNotSupported",
        "ETIMEDOUT" => "XenstoreTimeout",
        "ENOTEMPTY" => "XenstoreNotEmpty",
        "EROFS" => "XenstoreReadOnly",
        "ENOMEM" => "XenstoreOutOfMemory",
        "EIO" => "XenstoreIOError",
        "EISDIR" => "XenstoreIsDirectory",
        _ => "XenstoreError",
    };

    private static DeviceErrorCategory CategoryOf(string errorName) => errorName switch
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

    private static string Describe(string errorName) => errorName switch
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
}
