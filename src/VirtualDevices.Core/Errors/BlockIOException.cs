namespace VirtualDevices;

/// <summary>The storage behind a block device failed (an errno from the OS, or an error from a remote peer).</summary>
public sealed class BlockIOException : DeviceException
{
    /// <summary>Creates the error.</summary>
    /// <param name="deviceName">The device concerned.</param>
    /// <param name="operation">The failed operation, such as <c>read</c>.</param>
    /// <param name="detail">What failed.</param>
    /// <param name="errno">The OS or protocol error number, or 0.</param>
    /// <param name="innerException">The underlying error, when there is one.</param>
    public BlockIOException(string? deviceName, string operation, string detail, int errno = 0, Exception? innerException = null)
        : base(DeviceErrorIds.Block.IOError,
               operation is "read" ? DeviceErrorCategory.ReadError : DeviceErrorCategory.WriteError,
               $"Device '{deviceName}': {operation} failed: {detail}", deviceName, innerException)
    {
        Operation = operation;
        ErrorNumber = errno;
    }

    /// <summary>The failed operation.</summary>
    public string Operation { get; }

    /// <summary>The OS (errno) or protocol error number, or 0 when there is none.</summary>
    public int ErrorNumber { get; }
}
