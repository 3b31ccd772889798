namespace VirtualDevices.Xen.Xenstore.Protocol;

/// <summary>The size limits of the xenstore protocol (<c>xs_wire.h</c>).</summary>
public static class XenstoreLimits
{
    /// <summary>
    /// The largest payload in either direction (<c>XENSTORE_PAYLOAD_MAX</c>). xenstored drops a connection that sends
    /// more, so the client refuses to send such a message instead.
    /// </summary>
    public const int PayloadMax = 4096;

    /// <summary>
    /// The largest request payload through a xenbus device (<c>/dev/xen/xenbus</c>): Linux's driver buffers a whole
    /// message, header included, in XENSTORE_PAYLOAD_MAX bytes, so 4,096 - 16 = 4,080 (a longer write fails with EINVAL).
    /// </summary>
    public const int DevicePayloadMax = PayloadMax - HeaderSize;

    /// <summary>The longest absolute path (<c>XENSTORE_ABS_PATH_MAX</c>).</summary>
    public const int AbsolutePathMax = 3072;

    /// <summary>The longest relative path a client should send (<c>XENSTORE_REL_PATH_MAX</c>).</summary>
    public const int RelativePathMax = 2048;

    /// <summary>The size of <c>struct xsd_sockmsg</c>, the header in front of every payload.</summary>
    public const int HeaderSize = 16;
}
