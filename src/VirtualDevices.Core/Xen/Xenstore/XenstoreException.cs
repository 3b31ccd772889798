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
        : base(XenstoreErrorMapper.ToErrorId(errorName), XenstoreErrorMapper.ToCategory(errorName), message, XenstoreDeviceName, innerException)
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
    internal static XenstoreException FromReply(string errorName, XenstoreMessageType request, string? path) => XenstoreErrorMapper.ToException(errorName, request, path);

    /// <summary>The stable error id of an errno name.</summary>
    public static string ErrorIdOf(string errorName) => XenstoreErrorMapper.ToErrorId(errorName);
}
