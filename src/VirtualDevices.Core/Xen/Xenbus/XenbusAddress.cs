using System.Globalization;

namespace VirtualDevices.Xen.Xenbus;

/// <summary>
/// Where a split device lives in xenstore: its type (<c>vif</c>, <c>vbd</c>...), the two domains and the device id,
/// and from them the two ends' directories as the toolstack (libxl) lays them out.
/// </summary>
/// <param name="Type">The device type, such as <c>vif</c> or <c>vbd</c>.</param>
/// <param name="FrontendDomainId">The guest domain.</param>
/// <param name="BackendDomainId">The driver domain (0 for dom0).</param>
/// <param name="DeviceId">The device's number within its type (for a vbd, the virtual device number).</param>
public sealed record XenbusAddress(string Type, int FrontendDomainId, int BackendDomainId, int DeviceId)
{
    /// <summary>
    /// The type in the backend's path, when the backend is not the kernel's driver of <see cref="Type"/>: libxl files a
    /// disk that QEMU serves under <c>backend/qdisk</c> for a <c>vbd</c> frontend, so that dom0's xen-blkback never
    /// sees it. The frontend finds the backend by its <c>backend</c> key, whatever the path. By default, <see cref="Type"/>.
    /// </summary>
    public string BackendType { get; init; } = Type;

    /// <summary>The frontend's directory: <c>/local/domain/&lt;front&gt;/device/&lt;type&gt;/&lt;id&gt;</c>.</summary>
    public string FrontendPath => string.Create(CultureInfo.InvariantCulture, $"/local/domain/{FrontendDomainId}/device/{Type}/{DeviceId}");

    /// <summary>The backend's directory: <c>/local/domain/&lt;back&gt;/backend/&lt;backend type&gt;/&lt;front&gt;/&lt;id&gt;</c>.</summary>
    public string BackendPath => string.Create(CultureInfo.InvariantCulture, $"/local/domain/{BackendDomainId}/backend/{BackendType}/{FrontendDomainId}/{DeviceId}");

    /// <summary>The directory of one end.</summary>
    /// <param name="role">The end.</param>
    public string PathOf(XenbusRole role) => role == XenbusRole.Frontend ? FrontendPath : BackendPath;
}
