namespace VirtualDevices.Xen.Xenstore.Protocol;

/// <summary>The message types of the xenstore wire protocol (<c>enum xsd_sockmsg_type</c> in <c>xs_wire.h</c>).</summary>
public enum XenstoreMessageType : uint
{
    /// <summary>A daemon-specific control command; also the deprecated DEBUG.</summary>
    Control = 0,
    /// <summary>Lists the children of a node.</summary>
    Directory = 1,
    /// <summary>Reads the value of a node.</summary>
    Read = 2,
    /// <summary>Reads the permissions of a node.</summary>
    GetPermissions = 3,
    /// <summary>Registers a watch.</summary>
    Watch = 4,
    /// <summary>Removes a watch.</summary>
    Unwatch = 5,
    /// <summary>Starts a transaction.</summary>
    TransactionStart = 6,
    /// <summary>Commits or aborts a transaction.</summary>
    TransactionEnd = 7,
    /// <summary>Tells xenstored to talk to a new domain.</summary>
    Introduce = 8,
    /// <summary>Tells xenstored to stop talking to a domain.</summary>
    Release = 9,
    /// <summary>Returns <c>/local/domain/&lt;id&gt;</c>.</summary>
    GetDomainPath = 10,
    /// <summary>Writes the value of a node, creating it and its parents.</summary>
    Write = 11,
    /// <summary>Creates a node and its parents, leaving existing values alone.</summary>
    MakeDirectory = 12,
    /// <summary>Removes a node and its subtree.</summary>
    Remove = 13,
    /// <summary>Sets the permissions of a node.</summary>
    SetPermissions = 14,
    /// <summary>An unsolicited watch event from the daemon.</summary>
    WatchEvent = 15,
    /// <summary>An error reply; its payload is an errno name.</summary>
    Error = 16,
    /// <summary>Asks whether a domain is introduced.</summary>
    IsDomainIntroduced = 17,
    /// <summary>Re-arms <c>@releaseDomain</c> for a domain.</summary>
    Resume = 18,
    /// <summary>Lets a domain act for another (a device model for its guest).</summary>
    SetTarget = 19,
    /// <summary>Removes every watch and transaction of the connection.</summary>
    ResetWatches = 21,
    /// <summary>Lists a slice of a directory too large for one reply.</summary>
    DirectoryPart = 22,
    /// <summary>Guaranteed never to be a valid type.</summary>
    Invalid = 0xffff,
}
