namespace VirtualDevices.PowerShell.Infrastructure;

/// <summary>
/// The one rule for failures in the PowerShell layer: what a failure is to a command (<see cref="Classify"/>: the
/// input's error, a stop, or a defect), and the one mapping from an exception to its error record
/// (<see cref="FromException"/>): the core's stable error id becomes the FullyQualifiedErrorId, and its
/// <see cref="DeviceErrorCategory"/> the PowerShell category. Commands ask these instead of keeping lists of
/// exception types.
/// </summary>
/// <remarks>
/// A failure is the input's error (written as a non-terminating error where the input is one item of a pipeline)
/// when it has an id and a category: every <see cref="DeviceException"/>, whatever its category; an error of the
/// engine (a <see cref="RuntimeException"/>: a path that does not exist, a script block's error), which keeps its
/// own record; and the few .NET exceptions that report a user's input or environment (<see cref="Framework"/>). Any
/// other exception is a defect, reported as <c>UnexpectedError</c> and ending the command.
/// </remarks>
public static class ErrorRecords
{
    /// <summary>Builds the error record for an exception.</summary>
    /// <param name="exception">The failure.</param>
    /// <param name="target">The object the error concerns (a device, a path); defaults to the device's name.</param>
    public static ErrorRecord FromException(Exception exception, object? target)
    {
        ArgumentNullException.ThrowIfNull(exception);
        if (exception is DeviceException device)
        {
            return new ErrorRecord(device, device.ErrorId, Map(device.Category), target ?? device.DeviceName);
        }

        if (exception is RuntimeException { ErrorRecord: { } record })
        {
            // The engine's own errors (PathNotFound, DriveNotFound, a script block's error) keep their ids.
            return new ErrorRecord(record, exception);
        }

        if (exception is ObjectDisposedException disposed)
        {
            return new ErrorRecord(new DeviceDisconnectedException(disposed.ObjectName, "it was closed", disposed), DeviceErrorIds.Device.Disconnected,
                ErrorCategory.ConnectionError, target);
        }

        (string id, ErrorCategory category) = Framework(exception) ?? (DeviceErrorIds.Framework.UnexpectedError, ErrorCategory.NotSpecified);
        return new ErrorRecord(exception, id, category, target);
    }

    /// <summary>What a failure that escaped a command's work is to the command: the one rule every command follows.</summary>
    /// <param name="exception">The failure.</param>
    /// <param name="stopping">True when the pipeline is stopping (Ctrl+C, <c>Select-Object -First</c>).</param>
    public static ErrorDisposition Classify(Exception exception, bool stopping)
    {
        ArgumentNullException.ThrowIfNull(exception);
        return exception switch
        {
            OperationCanceledException when stopping => ErrorDisposition.Stopped,
            PipelineStoppedException => ErrorDisposition.Stopped,
            _ => IsReportable(exception) ? ErrorDisposition.Reportable : ErrorDisposition.Unexpected,
        };
    }

    /// <summary>
    /// True when <paramref name="exception"/> is a failure the module reports as the input's error (it has an id and a
    /// category), false for a defect (and for a cancellation, which is a stop or a timeout, never reported as such).
    /// </summary>
    /// <param name="exception">The failure.</param>
    public static bool IsReportable(Exception exception) => exception switch
    {
        DeviceException => true,
        PipelineStoppedException => false,
        RuntimeException => true,
        ObjectDisposedException => true,
        _ => Framework(exception) is not null,
    };

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

    /// <summary>The id and category of the .NET exceptions that report a user's input or environment; null for any other.</summary>
    private static (string Id, ErrorCategory Category)? Framework(Exception exception) => exception switch
    {
        ArgumentException => (DeviceErrorIds.Framework.InvalidArgument, ErrorCategory.InvalidArgument),
        FormatException => (DeviceErrorIds.Framework.InvalidFormat, ErrorCategory.InvalidArgument),
        System.Security.Cryptography.CryptographicException => (DeviceErrorIds.Framework.CertificateError, ErrorCategory.SecurityError),
        UnauthorizedAccessException => (DeviceErrorIds.Framework.AccessDenied, ErrorCategory.PermissionDenied),
        FileNotFoundException or DirectoryNotFoundException => (DeviceErrorIds.Framework.FileNotFound, ErrorCategory.ObjectNotFound),
        IOException => (DeviceErrorIds.Framework.IOError, ErrorCategory.WriteError),
        TimeoutException => (DeviceErrorIds.Framework.OperationTimeout, ErrorCategory.OperationTimeout),
        _ => null,
    };
}
