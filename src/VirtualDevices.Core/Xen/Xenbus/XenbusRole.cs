namespace VirtualDevices.Xen.Xenbus;

/// <summary>Which end of a split device: the guest's driver, or the driver domain's.</summary>
public enum XenbusRole
{
    /// <summary>The frontend (netfront, blkfront): its node is <c>/local/domain/&lt;front&gt;/device/&lt;type&gt;/&lt;id&gt;</c>.</summary>
    Frontend,

    /// <summary>The backend (netback, blkback): its node is <c>/local/domain/&lt;back&gt;/backend/&lt;type&gt;/&lt;front&gt;/&lt;id&gt;</c>.</summary>
    Backend,
}
