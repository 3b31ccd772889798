namespace VirtualDevices;

/// <summary>The device does not implement the operation, or its peer did not offer it.</summary>
public sealed class DeviceUnimplementedException : DeviceException
{
    /// <summary>Creates the error.</summary>
    /// <param name="deviceName">The device concerned.</param>
    /// <param name="operation">The operation that is not available, such as <c>trim</c>.</param>
    public DeviceUnimplementedException(string? deviceName, string operation)
        : base(DeviceErrorIds.Device.Unimplemented, DeviceErrorCategory.NotImplemented,
               $"Device '{deviceName}' does not support {operation}.", deviceName)
    {
        Operation = operation;
    }

    /// <summary>The operation that is not available.</summary>
    public string Operation { get; }
}
