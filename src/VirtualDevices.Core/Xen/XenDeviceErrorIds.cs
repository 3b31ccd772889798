namespace VirtualDevices.Xen;

/// <summary>
/// The error ids of the Xen device nodes (<c>/dev/xen/evtchn</c>, <c>gntalloc</c>, <c>gntdev</c>). Stable: callers and
/// the PowerShell layer branch on them. The category of each error comes from its errno (see
/// <see cref="XenDeviceException"/>), the id from the operation that failed.
/// </summary>
public static class XenDeviceErrorIds
{
    /// <summary>The device node does not exist (not a Xen domain, or its driver module is not loaded).</summary>
    public const string NotFound = "XenDeviceNotFound";

    /// <summary>The device node exists but may not be opened (dom0 devices need root).</summary>
    public const string AccessDenied = "XenDeviceAccessDenied";

    /// <summary>The device node could not be opened for another reason.</summary>
    public const string OpenFailed = "XenDeviceOpenFailed";

    /// <summary>An event channel bind (unbound port or interdomain) was refused.</summary>
    public const string EventChannelBindFailed = "EventChannelBindFailed";

    /// <summary>The port is not bound through this event channel device (the kernel's ENOTCONN).</summary>
    public const string EventChannelNotBound = "EventChannelNotBound";

    /// <summary>A notify failed.</summary>
    public const string EventChannelNotifyFailed = "EventChannelNotifyFailed";

    /// <summary>An unbind failed.</summary>
    public const string EventChannelUnbindFailed = "EventChannelUnbindFailed";

    /// <summary>Reading pending ports, unmasking them or waiting for them failed.</summary>
    public const string EventChannelReadFailed = "EventChannelReadFailed";

    /// <summary>The device's ring of pending ports overflowed: events were lost, and the device must be reset.</summary>
    public const string EventChannelOverflow = "EventChannelOverflow";

    /// <summary>Granting pages to a domain (gntalloc's allocation or its mmap) failed.</summary>
    public const string GrantShareFailed = "GrantShareFailed";

    /// <summary>Mapping a domain's grants (gntdev's map or its mmap) failed: a bad reference or domain, or no room.</summary>
    public const string GrantMapFailed = "GrantMapFailed";

    /// <summary>Setting the notification sent when a grant's mapping goes failed.</summary>
    public const string GrantUnmapNotifyFailed = "GrantUnmapNotifyFailed";
}
