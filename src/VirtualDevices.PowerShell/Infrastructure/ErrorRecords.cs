using System.Management.Automation;

namespace VirtualDevices.PowerShell.Infrastructure;

/// <summary>
/// The one mapping from core exceptions to PowerShell error records: the core's stable error id becomes the
/// FullyQualifiedErrorId, and its category the PowerShell category.
/// </summary>
public static class ErrorRecords
{
    /// <summary>Builds the error record for an exception.</summary>
    /// <param name="exception">The failure.</param>
    /// <param name="target">The object the error concerns (a device, a path); defaults to the device's name.</param>
    public static ErrorRecord FromException(Exception exception, object? target)
    {
        ArgumentNullException.ThrowIfNull(exception);
        return exception switch
        {
            DeviceException e => new ErrorRecord(e, e.ErrorId, Map(e.Category), target ?? e.DeviceName),
            ArgumentException e => new ErrorRecord(e, "InvalidArgument", ErrorCategory.InvalidArgument, target),
            FormatException e => new ErrorRecord(e, "InvalidFormat", ErrorCategory.InvalidArgument, target),
            System.Security.Cryptography.CryptographicException e => new ErrorRecord(e, "CertificateError", ErrorCategory.SecurityError, target),
            UnauthorizedAccessException e => new ErrorRecord(e, "AccessDenied", ErrorCategory.PermissionDenied, target),
            FileNotFoundException e => new ErrorRecord(e, "FileNotFound", ErrorCategory.ObjectNotFound, target),
            DirectoryNotFoundException e => new ErrorRecord(e, "FileNotFound", ErrorCategory.ObjectNotFound, target),
            ObjectDisposedException e => new ErrorRecord(new DeviceDisconnectedException(e.ObjectName, "it was closed", e), "DeviceDisconnected", ErrorCategory.ConnectionError, target),
            IOException e => new ErrorRecord(e, "IOError", ErrorCategory.WriteError, target),
            TimeoutException e => new ErrorRecord(e, "OperationTimeout", ErrorCategory.OperationTimeout, target),
            _ => new ErrorRecord(exception, "UnexpectedError", ErrorCategory.NotSpecified, target),
        };
    }

    /// <summary>The PowerShell category of a core category.</summary>
    /// <param name="category">The core category.</param>
    public static ErrorCategory Map(DeviceErrorCategory category) => category switch
    {
        DeviceErrorCategory.ConnectionError => ErrorCategory.ConnectionError,
        DeviceErrorCategory.NotImplemented => ErrorCategory.NotImplemented,
        DeviceErrorCategory.InvalidArgument => ErrorCategory.InvalidArgument,
        DeviceErrorCategory.PermissionDenied => ErrorCategory.PermissionDenied,
        DeviceErrorCategory.ReadError => ErrorCategory.ReadError,
        DeviceErrorCategory.WriteError => ErrorCategory.WriteError,
        DeviceErrorCategory.ProtocolError => ErrorCategory.ProtocolError,
        DeviceErrorCategory.ObjectNotFound => ErrorCategory.ObjectNotFound,
        DeviceErrorCategory.ResourceExists => ErrorCategory.ResourceExists,
        DeviceErrorCategory.OperationTimeout => ErrorCategory.OperationTimeout,
        DeviceErrorCategory.LimitsExceeded => ErrorCategory.LimitsExceeded,
        DeviceErrorCategory.ResourceBusy => ErrorCategory.ResourceBusy,
        DeviceErrorCategory.InvalidOperation => ErrorCategory.InvalidOperation,
        _ => ErrorCategory.NotSpecified,
    };
}
