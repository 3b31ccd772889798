namespace VirtualDevices;

/// <summary>A write, trim or zeroing was asked of a read-only block device.</summary>
public sealed class BlockReadOnlyException : DeviceException
{
    /// <summary>Creates the error.</summary>
    /// <param name="deviceName">The read-only device.</param>
    /// <param name="operation">The refused operation, such as <c>write</c>.</param>
    public BlockReadOnlyException(string? deviceName, string operation)
        : base(DeviceErrorIds.Block.ReadOnly, DeviceErrorCategory.PermissionDenied,
               $"Device '{deviceName}' is read-only: {operation} refused.", deviceName)
    {
        Operation = operation;
    }

    /// <summary>The refused operation.</summary>
    public string Operation { get; }
}
