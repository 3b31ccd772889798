namespace VirtualDevices.Xen;

/// <summary>What provides a domain's grant table and event channels.</summary>
public enum XenPlatformKind
{
    /// <summary>The loopback hypervisor of this process (no Xen here): memfd pages and eventfds.</summary>
    Loopback,

    /// <summary>Real Xen, through Linux's <c>/dev/xen/gntalloc</c>, <c>gntdev</c> and <c>evtchn</c>.</summary>
    Xen,
}
