namespace VirtualDevices;

/// <summary>
/// The kind of failure a <see cref="DeviceException"/> reports. The PowerShell layer maps each value to one
/// PowerShell error category, so the core stays free of any PowerShell reference.
/// </summary>
public enum DeviceErrorCategory
{
    /// <summary>A failure that fits no other category.</summary>
    NotSpecified,
    /// <summary>The device or its peer is gone.</summary>
    ConnectionError,
    /// <summary>The operation is not implemented by this device or was not offered by its peer.</summary>
    NotImplemented,
    /// <summary>The caller passed an argument that can never succeed (misaligned, out of range).</summary>
    InvalidArgument,
    /// <summary>The caller may not do this (read-only device, permission denied).</summary>
    PermissionDenied,
    /// <summary>The device failed to read.</summary>
    ReadError,
    /// <summary>The device failed to write.</summary>
    WriteError,
    /// <summary>A peer broke the protocol (bad magic, malformed reply).</summary>
    ProtocolError,
    /// <summary>A requested object does not exist.</summary>
    ObjectNotFound,
    /// <summary>The object already exists or conflicts with current state.</summary>
    ResourceExists,
    /// <summary>A wait ran out of time.</summary>
    OperationTimeout,
    /// <summary>A quota or limit was exceeded.</summary>
    LimitsExceeded,
    /// <summary>The object is busy; retrying may succeed.</summary>
    ResourceBusy,
    /// <summary>The device is not in a state that allows the operation.</summary>
    InvalidOperation,
}
