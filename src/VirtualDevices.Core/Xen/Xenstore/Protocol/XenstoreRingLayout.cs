namespace VirtualDevices.Xen.Xenstore.Protocol;

/// <summary>
/// The layout of <c>struct xenstore_domain_interface</c> (<c>xen/io/xs_wire.h</c>): the page a guest and xenstored
/// share, two byte rings of 1,024 bytes (requests to the daemon, then replies and watch events to the guest) and
/// their free-running 32-bit indices, then the reconnection fields. Checked against the header by a test that
/// compiles C (XenstoreRingHeadersTests).
/// </summary>
internal static class XenstoreRingLayout
{
    /// <summary>XENSTORE_RING_SIZE: each ring's bytes, a power of two so an index is masked, never divided.</summary>
    public const int RingSize = 1024;

    /// <summary>MASK_XENSTORE_IDX: an index's position in its ring.</summary>
    public const uint IndexMask = RingSize - 1;

    /// <summary>Offset of <c>req</c>: the guest's requests.</summary>
    public const int RequestOffset = 0;

    /// <summary>Offset of <c>rsp</c>: the daemon's replies and watch events.</summary>
    public const int ResponseOffset = RingSize;

    /// <summary>Offset of <c>req_cons</c> (the daemon's index).</summary>
    public const int RequestConsumerOffset = 2 * RingSize;

    /// <summary>Offset of <c>req_prod</c> (the guest's index).</summary>
    public const int RequestProducerOffset = RequestConsumerOffset + 4;

    /// <summary>Offset of <c>rsp_cons</c> (the guest's index).</summary>
    public const int ResponseConsumerOffset = RequestConsumerOffset + 8;

    /// <summary>Offset of <c>rsp_prod</c> (the daemon's index).</summary>
    public const int ResponseProducerOffset = RequestConsumerOffset + 12;

    /// <summary>Offset of <c>server_features</c>.</summary>
    public const int ServerFeaturesOffset = RequestConsumerOffset + 16;

    /// <summary>Offset of <c>connection</c>.</summary>
    public const int ConnectionOffset = RequestConsumerOffset + 20;

    /// <summary>Offset of <c>error</c>.</summary>
    public const int ErrorOffset = RequestConsumerOffset + 24;

    /// <summary>sizeof(struct xenstore_domain_interface): 2,076 bytes, within the one 4,096-byte page Xen gives it.</summary>
    public const int Size = RequestConsumerOffset + 28;

    /// <summary>XENSTORE_SERVER_FEATURE_RECONNECTION.</summary>
    public const uint FeatureReconnection = 1;

    /// <summary>XENSTORE_SERVER_FEATURE_ERROR: the daemon writes <c>error</c> when it gives up on a ring.</summary>
    public const uint FeatureError = 2;

    /// <summary>XENSTORE_CONNECTED.</summary>
    public const uint Connected = 0;

    /// <summary>XENSTORE_RECONNECT.</summary>
    public const uint Reconnect = 1;

    /// <summary>XENSTORE_ERROR_NONE.</summary>
    public const uint ErrorNone = 0;

    /// <summary>XENSTORE_ERROR_COMM.</summary>
    public const uint ErrorCommunication = 1;

    /// <summary>XENSTORE_ERROR_RINGIDX: an index out of bounds, what our checks find.</summary>
    public const uint ErrorRingIndex = 2;

    /// <summary>XENSTORE_ERROR_PROTO.</summary>
    public const uint ErrorProtocol = 3;

    /// <summary>GNTTAB_RESERVED_XENSTORE (<c>xen/grant_table.h</c>): the grant reference of a guest's xenstore page, set up by the toolstack.</summary>
    public const uint ReservedGrantReference = 1;
}
