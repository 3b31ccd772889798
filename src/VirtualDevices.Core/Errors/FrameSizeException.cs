namespace VirtualDevices;

/// <summary>A frame is larger than the network device's maximum frame size, or shorter than an Ethernet header.</summary>
public sealed class FrameSizeException : DeviceException
{
    /// <summary>Creates the error.</summary>
    /// <param name="deviceName">The device concerned.</param>
    /// <param name="length">The length of the refused frame.</param>
    /// <param name="minimum">The smallest accepted length.</param>
    /// <param name="maximum">The largest accepted length.</param>
    public FrameSizeException(string? deviceName, int length, int minimum, int maximum)
        : base(DeviceErrorIds.Network.FrameSizeInvalid, DeviceErrorCategory.InvalidArgument,
               $"Device '{deviceName}': a frame of {length} bytes is outside {minimum}..{maximum}.", deviceName)
    {
        Length = length;
    }

    /// <summary>The length of the refused frame.</summary>
    public int Length { get; }
}
