namespace VirtualDevices;

/// <summary>
/// An NBD peer broke the protocol (bad magic, unknown cookie, a malformed or oversized reply): the connection cannot be
/// trusted any more and is torn down.
/// </summary>
public sealed class NbdProtocolException : DeviceException
{
    /// <summary>Creates the error.</summary>
    /// <param name="deviceName">The device concerned, when there is one.</param>
    /// <param name="detail">What the peer did wrong.</param>
    /// <param name="innerException">The underlying error, when there is one.</param>
    public NbdProtocolException(string? deviceName, string detail, Exception? innerException = null)
        : base(DeviceErrorIds.Nbd.ProtocolError, DeviceErrorCategory.ProtocolError,
               deviceName is null ? $"NBD protocol error: {detail}" : $"Device '{deviceName}': NBD protocol error: {detail}",
               deviceName, innerException)
    {
        Detail = detail;
    }

    /// <summary>What the peer did wrong.</summary>
    public string Detail { get; }
}
