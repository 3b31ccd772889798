namespace VirtualDevices.Xen;

/// <summary>Which platform <see cref="XenPlatform.OpenAsync"/> would use now, without opening it.</summary>
/// <param name="Kind">Real Xen or the loopback hypervisor.</param>
/// <param name="DeviceDirectory">Where the Xen device nodes were looked for.</param>
/// <param name="Hypervisor">On the loopback, the name of the host's hypervisor that would be joined; null on Xen, or when none runs yet (one is started on first use).</param>
/// <param name="SocketPath">That hypervisor's control socket, or null (in-process only, or none).</param>
public sealed record XenPlatformInfo(XenPlatformKind Kind, string DeviceDirectory, string? Hypervisor, string? SocketPath);
