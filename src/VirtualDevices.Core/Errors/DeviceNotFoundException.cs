namespace VirtualDevices;

/// <summary>No registered device has the given name, or the path to open does not exist.</summary>
public sealed class DeviceNotFoundException : DeviceException
{
    /// <summary>Creates the error.</summary>
    /// <param name="name">The name or path that was not found.</param>
    /// <param name="innerException">The underlying error, when there is one.</param>
    public DeviceNotFoundException(string name, Exception? innerException = null)
        : base("DeviceNotFound", DeviceErrorCategory.ObjectNotFound, $"No device named '{name}' was found.", name, innerException)
    {
    }
}
