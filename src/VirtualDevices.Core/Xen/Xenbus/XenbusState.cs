namespace VirtualDevices.Xen.Xenbus;

/// <summary>
/// The states of one end of a split device, as each end writes them to its <c>state</c> node
/// (<c>enum xenbus_state</c> of <c>xen/io/xenbus.h</c>; the values are checked against that header by a test).
/// </summary>
public enum XenbusState
{
    /// <summary>No state, or one this module does not know (a node that holds something else).</summary>
    Unknown = 0,

    /// <summary>The toolstack made the device; the end has not started.</summary>
    Initialising = 1,

    /// <summary>Early initialisation done; waiting for the peer (a backend has written its features).</summary>
    InitWait = 2,

    /// <summary>Waiting for a connection from the peer (a frontend has written its ring references).</summary>
    Initialised = 3,

    /// <summary>Running.</summary>
    Connected = 4,

    /// <summary>The end is being shut down: the peer should let go of what it shares.</summary>
    Closing = 5,

    /// <summary>Shut down.</summary>
    Closed = 6,

    /// <summary>A frontend asked for reconfiguration (used by pvSCSI only).</summary>
    Reconfiguring = 7,

    /// <summary>Reconfiguration done.</summary>
    Reconfigured = 8,
}
