namespace VirtualDevices.PowerShell.Providers;

/// <summary>A drive of the Xenstore provider: the session's store (Xs:), or a store of its own.</summary>
public sealed class XenstoreDriveInfo : PSDriveInfo
{
    /// <summary>Creates the drive.</summary>
    /// <param name="drive">The drive as New-PSDrive describes it.</param>
    /// <param name="store">The store it shows, or null for the session's current store.</param>
    /// <param name="ownsStore">True when removing the drive closes the store.</param>
    public XenstoreDriveInfo(PSDriveInfo drive, XenstoreClient? store, bool ownsStore)
        : base(drive)
    {
        Store = store;
        OwnsStore = ownsStore;
    }

    /// <summary>The store the drive shows, or null for the session's current store.</summary>
    public XenstoreClient? Store { get; }

    /// <summary>True when the drive opened its store and closes it when removed.</summary>
    public bool OwnsStore { get; }
}
