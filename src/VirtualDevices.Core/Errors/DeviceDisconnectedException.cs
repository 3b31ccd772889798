namespace VirtualDevices;

/// <summary>The device was disconnected, by the caller or because its peer went away.</summary>
public sealed class DeviceDisconnectedException : DeviceException
{
    /// <summary>Creates the error.</summary>
    /// <param name="deviceName">The device that is disconnected.</param>
    /// <param name="reason">Why, when known.</param>
    /// <param name="innerException">The underlying error, when there is one.</param>
    public DeviceDisconnectedException(string? deviceName, string? reason = null, Exception? innerException = null)
        : base(DeviceErrorIds.Device.Disconnected, DeviceErrorCategory.ConnectionError,
               reason is null ? $"Device '{deviceName}' is disconnected." : $"Device '{deviceName}' is disconnected: {reason}",
               deviceName, innerException)
    {
    }
}
