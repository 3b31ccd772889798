namespace VirtualDevices;

/// <summary>No registered device has the given name, or the path to open does not exist.</summary>
public sealed class DeviceNotFoundException : DeviceException
{
    /// <summary>Creates the error.</summary>
    /// <param name="name">The name or path that was not found.</param>
    /// <param name="innerException">The underlying error, when there is one.</param>
    public DeviceNotFoundException(string name, Exception? innerException = null)
        : base(DeviceErrorIds.Device.NotFound, DeviceErrorCategory.ObjectNotFound, $"No device named '{name}' was found.", name, innerException)
    {
    }

    /// <summary>Creates the error with a message of the caller's (for a missing export, socket or file).</summary>
    /// <param name="name">The name or path that was not found.</param>
    /// <param name="message">What was not found, in the user's terms.</param>
    /// <param name="innerException">The underlying error, when there is one.</param>
    public DeviceNotFoundException(string? name, string message, Exception? innerException)
        : base(DeviceErrorIds.Device.NotFound, DeviceErrorCategory.ObjectNotFound, message, name, innerException)
    {
    }
}
