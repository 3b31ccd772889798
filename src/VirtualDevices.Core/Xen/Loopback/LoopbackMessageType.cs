namespace VirtualDevices.Xen.Loopback;

/// <summary>
/// The control messages between a domain and the loopback hypervisor. A request's reply has the request's type with
/// <see cref="Reply"/> set; a notice (the hypervisor telling a domain something nobody asked) has <see cref="Notice"/>.
/// </summary>
internal enum LoopbackMessageType : uint
{
    /// <summary>Join as a domain: arg0 the id asked for (<see cref="LoopbackMessage.AnyDomain"/>: any), arg1 the arena's pages; the arena memfd passed. Reply: arg0 the id; with xenstore, arg1 the domain's xenstore port, arg2 its page's frame (granted to dom0 as reference 1) and the port's eventfd passed.</summary>
    Join = 1,

    /// <summary>Grant frames of the arena: arg0 the grantee, arg1 1 for read-only; items the frames. Reply: items the references.</summary>
    Grant = 2,

    /// <summary>End grants: items the references. Reply: items, per reference, 0 ended or 1 deferred (still mapped).</summary>
    End = 3,

    /// <summary>Map another domain's grants: arg0 the granter, arg1 1 for writable; items the references. Reply: items the frames, the granter's arena passed (read-only unless writable).</summary>
    Map = 4,

    /// <summary>Unmap grants mapped before: arg0 the granter; items the references (after the pages were unmapped here).</summary>
    Unmap = 5,

    /// <summary>How many times the grantee maps each grant: items the references. Reply: items the counts.</summary>
    GrantStatus = 6,

    /// <summary>Allocate an unbound port for arg0; this port's eventfd passed. Reply: arg0 the port.</summary>
    AllocateUnbound = 7,

    /// <summary>Bind port arg1 of domain arg0; this port's eventfd passed (it starts with one event pending). Reply: arg0 the port, the other end's eventfd passed.</summary>
    BindInterdomain = 8,

    /// <summary>Close port arg0 (the other end is told).</summary>
    Unbind = 9,

    /// <summary>The other end of port arg0, asked by a notify that has not yet seen the ChannelBound notice. Reply: arg0 1 and the other end's eventfd passed when bound, arg0 0 while unbound.</summary>
    PeerOf = 10,

    /// <summary>
    /// The domain leaves: the hypervisor undoes all it held (as for a closed socket: RELEASE and its home removed with
    /// xenstore, its grants ended, its channels closed) and only then replies, so that the domain's Dispose returns
    /// with the departure done. A domain that dies instead (its socket closed) departs all the same, a moment later.
    /// </summary>
    Leave = 11,

    /// <summary>Set on a reply.</summary>
    Reply = 0x4000_0000,

    /// <summary>Set on a notice.</summary>
    Notice = 0x8000_0000,

    /// <summary>Notice: the grants in items ended earlier are no longer mapped anywhere; their frames are free.</summary>
    Released = Notice | 1,

    /// <summary>Notice: unbound port arg0 was bound by its domain as arg1; that port's eventfd passed.</summary>
    ChannelBound = Notice | 2,

    /// <summary>Notice: port arg0 was closed at its other end (unbound, or its domain went away).</summary>
    ChannelClosed = Notice | 3,
}
