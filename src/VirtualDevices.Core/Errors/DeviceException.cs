namespace VirtualDevices;

/// <summary>
/// The root of every error the VirtualDevices core raises. Each subclass carries a stable
/// <see cref="ErrorId"/> (used as the PowerShell FullyQualifiedErrorId) and a <see cref="Category"/>.
/// </summary>
public class DeviceException : Exception
{
    /// <summary>Creates an error with an id and category.</summary>
    /// <param name="errorId">A stable identifier, such as <c>BlockReadOnly</c>.</param>
    /// <param name="category">The kind of failure.</param>
    /// <param name="message">A sentence for the user.</param>
    /// <param name="deviceName">The device concerned, when there is one.</param>
    /// <param name="innerException">The underlying error, when there is one.</param>
    public DeviceException(string errorId, DeviceErrorCategory category, string message, string? deviceName = null, Exception? innerException = null)
        : base(message, innerException)
    {
        ErrorId = errorId;
        Category = category;
        DeviceName = deviceName;
    }

    /// <summary>A stable identifier of the error, independent of the message text.</summary>
    public string ErrorId { get; }

    /// <summary>The kind of failure.</summary>
    public DeviceErrorCategory Category { get; }

    /// <summary>The device the error concerns, or <see langword="null"/>.</summary>
    public string? DeviceName { get; }
}
