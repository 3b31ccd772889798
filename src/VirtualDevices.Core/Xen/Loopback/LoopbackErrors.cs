using VirtualDevices.Interop;

namespace VirtualDevices.Xen.Loopback;

/// <summary>The typed errors of the loopback hypervisor's domains: a reply's status, a failed system call, the hypervisor gone.</summary>
internal static class LoopbackErrors
{
    /// <summary>What names the hypervisor in errors.</summary>
    public const string Source = "xen-loopback";

    public static DeviceException FromStatus(LoopbackStatus status, string what) => status switch
    {
        LoopbackStatus.DomainIdInUse => new(DeviceErrorIds.XenLoopback.DomainIdInUse, DeviceErrorCategory.ResourceExists, $"{what}: the domain id is taken", Source),
        LoopbackStatus.DomainNotFound => new(DeviceErrorIds.XenLoopback.DomainNotFound, DeviceErrorCategory.ObjectNotFound, $"{what}: no such domain is joined", Source),
        LoopbackStatus.GrantNotFound => new(DeviceErrorIds.XenLoopback.GrantNotFound, DeviceErrorCategory.InvalidArgument,
            $"{what}: a reference that was not granted to this domain, or whose grant ended", Source),
        LoopbackStatus.GrantReadOnly => new(DeviceErrorIds.XenLoopback.GrantReadOnly, DeviceErrorCategory.PermissionDenied, $"{what}: the grant is read-only", Source),
        LoopbackStatus.PortNotFound => new(DeviceErrorIds.XenLoopback.PortNotFound, DeviceErrorCategory.InvalidArgument,
            $"{what}: no such port, or it is not an unbound port meant for this domain", Source),
        LoopbackStatus.SystemCallFailed => new(DeviceErrorIds.XenLoopback.SystemCallFailed, DeviceErrorCategory.NotSpecified, $"{what}: a system call of the hypervisor failed", Source),
        _ => new(DeviceErrorIds.XenLoopback.ProtocolError, DeviceErrorCategory.ProtocolError, $"{what}: the hypervisor refused the request as malformed ({status})", Source),
    };

    public static DeviceException SystemCall(string call, int errno) =>
        new(DeviceErrorIds.XenLoopback.SystemCallFailed, DeviceErrorCategory.NotSpecified, $"{call} failed: {Unix.Errno.Describe(errno)}", Source);

    public static DeviceException HypervisorGone(string what) =>
        new(DeviceErrorIds.XenLoopback.HypervisorGone, DeviceErrorCategory.ConnectionError,
            $"{what}: the loopback hypervisor went away (its control socket closed); this domain's grants and channels are gone", Source);

    public static DeviceException GrantLimit(int pages, int arena) =>
        new(DeviceErrorIds.XenLoopback.GrantLimitReached, DeviceErrorCategory.LimitsExceeded,
            $"No run of {pages} free page(s) in this domain's grant arena of {arena} pages (pages stay taken until their grants end and every peer has unmapped them)", Source);
}
