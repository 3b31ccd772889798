namespace VirtualDevices;

/// <summary>
/// A device failure the device could not classify (mirage-net's <c>Unknown</c> error): the message says what the
/// device reported.
/// </summary>
public sealed class DeviceUnknownException : DeviceException
{
    /// <summary>Creates the error.</summary>
    /// <param name="deviceName">The device concerned.</param>
    /// <param name="message">What the device reported.</param>
    /// <param name="innerException">The underlying error, when there is one.</param>
    public DeviceUnknownException(string? deviceName, string message, Exception? innerException = null)
        : base(DeviceErrorIds.Device.UnknownError, DeviceErrorCategory.NotSpecified, message, deviceName, innerException)
    {
    }
}
