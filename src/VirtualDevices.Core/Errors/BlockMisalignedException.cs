namespace VirtualDevices;

/// <summary>A buffer, offset or length is not a whole number of sectors (or of the device's required alignment).</summary>
public sealed class BlockMisalignedException : DeviceException
{
    /// <summary>Creates the error.</summary>
    /// <param name="deviceName">The device concerned.</param>
    /// <param name="what">What is misaligned, such as <c>buffer length 100</c>.</param>
    /// <param name="alignment">The alignment required, in bytes.</param>
    public BlockMisalignedException(string? deviceName, string what, int alignment)
        : base(DeviceErrorIds.Block.Misaligned, DeviceErrorCategory.InvalidArgument,
               $"Device '{deviceName}': {what} is not a multiple of {alignment} bytes.", deviceName)
    {
        Alignment = alignment;
    }

    /// <summary>The required alignment in bytes.</summary>
    public int Alignment { get; }
}
