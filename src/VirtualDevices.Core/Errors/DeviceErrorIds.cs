namespace VirtualDevices;

/// <summary>
/// The catalogue of every error id the module emits, defined once. An id is the stable first part of a PowerShell
/// FullyQualifiedErrorId (<c>BlockReadOnly,VirtualDevices.PowerShell.Commands.Block.WriteBlockDeviceCommand</c>), so
/// scripts branch on it: an id never changes once published, and a new failure gets a new id here, never a literal
/// at the throw site (the catalogue test of the core suite scans <c>src/</c> for that).
/// </summary>
/// <remarks>
/// Ids are grouped by family, one nested class each; the member name is the id without its family prefix. The
/// mappers that translate a protocol's own error codes into these ids live beside their protocol and have one shape
/// (<c>ToException</c> from the wire, <c>From…</c> back to it): <see cref="ErrnoErrorMapper"/> (host errno),
/// <c>Nbd.Protocol.NbdErrorMapper</c> (NBD error values, both roles), <c>Xen.Xenstore.XenstoreErrorMapper</c>
/// (xenstore error names, both roles), <c>Devices.SocketErrors</c> (socket errors of listen and connect).
/// </remarks>
public static class DeviceErrorIds
{
    /// <summary>Devices in general: naming, opening, state.</summary>
    public static class Device
    {
        /// <summary>No open device has the name, or the image path does not exist.</summary>
        public const string NotFound = "DeviceNotFound";

        /// <summary>The device was disconnected, or its peer went away.</summary>
        public const string Disconnected = "DeviceDisconnected";

        /// <summary>The device does not implement the operation, or its peer did not offer it.</summary>
        public const string Unimplemented = "DeviceUnimplemented";

        /// <summary>A failure the device could not classify.</summary>
        public const string UnknownError = "DeviceUnknownError";

        /// <summary>Every buffer of a bounded page pool is out (frames, ring pages): the caller drops or waits, counted.</summary>
        public const string BufferPoolExhausted = "BufferPoolExhausted";

        /// <summary>A device of that name is already open in the session.</summary>
        public const string NameInUse = "DeviceNameInUse";

        /// <summary>A name given to a device or service breaks the naming rule (<see cref="Hosting.HostNames"/>).</summary>
        public const string InvalidName = "InvalidName";

        /// <summary>The image is locked by another program (or another open of this session).</summary>
        public const string Locked = "DeviceLocked";

        /// <summary>The path is not something a block device can be made of (a directory, a file that cannot be sized).</summary>
        public const string NotBlockCapable = "DeviceNotBlockCapable";

        /// <summary>The image to create exists already.</summary>
        public const string ImageExists = "DeviceImageExists";

        /// <summary>The image may not be opened as asked (permissions, a read-only file system).</summary>
        public const string AccessDenied = "DeviceAccessDenied";

        /// <summary>The device is still used (served by an NBD server) and cannot be closed.</summary>
        public const string InUse = "DeviceInUse";

        /// <summary>A file to write the device's data to exists and may not be overwritten (-NoClobber).</summary>
        public const string OutFileExists = "OutFileExists";
    }

    /// <summary>Block devices: ranges, alignment, read-only, I/O.</summary>
    public static class Block
    {
        /// <summary>The storage behind the device failed (an errno, or an error from the NBD peer).</summary>
        public const string IOError = "BlockIOError";

        /// <summary>A buffer, offset or length is not a whole number of sectors.</summary>
        public const string Misaligned = "BlockMisaligned";

        /// <summary>The request reaches past the end of the device.</summary>
        public const string OutOfRange = "BlockOutOfRange";

        /// <summary>A write, trim or zeroing on a read-only device.</summary>
        public const string ReadOnly = "BlockReadOnly";
    }

    /// <summary>Network devices.</summary>
    public static class Network
    {
        /// <summary>A frame is too long for the device, or shorter than an Ethernet header.</summary>
        public const string FrameSizeInvalid = "FrameSizeInvalid";

        /// <summary>The device has a listener already.</summary>
        public const string ListenerActive = "DeviceListenerActive";

        /// <summary>The device has as many capture taps as it allows.</summary>
        public const string TapLimit = "NetworkTapLimit";

        /// <summary>A device given where a network device is needed.</summary>
        public const string NotNetworkDevice = "DeviceNotNetwork";

        /// <summary>
        /// A virtual interface (a Linux TAP, a macOS vmnet interface) could not be made or configured: the driver
        /// refused a name, address, MTU or flag, or the interface framework failed.
        /// </summary>
        public const string InterfaceFailed = "NetworkInterfaceFailed";

        /// <summary>Making the interface needs privileges this process lacks (CAP_NET_ADMIN or root; on macOS, root or the vmnet entitlement).</summary>
        public const string InterfaceAccessDenied = "NetworkInterfaceAccessDenied";

        /// <summary>An interface name the kernel cannot take (longer than 15 bytes, a '/', a blank...).</summary>
        public const string InterfaceNameInvalid = "NetworkInterfaceNameInvalid";

        /// <summary>An interface of that name exists and is not a free TAP of ours to attach to (or is in use).</summary>
        public const string InterfaceBusy = "NetworkInterfaceBusy";

        /// <summary>Bridged mode names a bridge that does not exist, or an interface that is not a bridge.</summary>
        public const string BridgeNotFound = "NetworkBridgeNotFound";

        /// <summary>Shared mode's NAT (the nftables table and IPv4 forwarding) could not be set up.</summary>
        public const string NatFailed = "NetworkNatFailed";

        /// <summary>The network namespace named for the interface does not exist or cannot be entered.</summary>
        public const string NamespaceNotFound = "NetworkNamespaceNotFound";

        /// <summary>This kind of interface does not exist on this operating system (TAP off Linux, vmnet off macOS).</summary>
        public const string InterfaceUnsupported = "NetworkInterfaceUnsupported";

        /// <summary>The device is a port of a switch already (a device joins one switch, once).</summary>
        public const string SwitchPortInUse = "NetworkSwitchPortInUse";

        /// <summary>No switch of the session has that name, or the device is not a port of it.</summary>
        public const string SwitchNotFound = "NetworkSwitchNotFound";
    }

    /// <summary>Capture files (pcap, pcapng): reading, writing, background captures.</summary>
    public static class Capture
    {
        /// <summary>A capture file ends inside a block or record: the frames before the cut were read.</summary>
        public const string Truncated = "CaptureTruncated";

        /// <summary>A file that is not pcap or pcapng, or a block that breaks the format.</summary>
        public const string InvalidFormat = "CaptureInvalidFormat";

        /// <summary>The capture file exists and overwriting it was not asked for.</summary>
        public const string FileExists = "CaptureFileExists";

        /// <summary>Writing the capture file failed (a full disk, an I/O error); the blocks written before stay whole.</summary>
        public const string WriteFailed = "CaptureWriteFailed";

        /// <summary>A link type other than Ethernet: its records are not Ethernet frames.</summary>
        public const string UnsupportedLinkType = "CaptureUnsupportedLinkType";
    }

    /// <summary>Sockets, shared by every server's listen and every client's connect (NBD and xenstore alike).</summary>
    public static class Socket
    {
        /// <summary>A listen fails because the address (TCP or unix socket) is in use.</summary>
        public const string AddressInUse = "AddressInUse";

        /// <summary>A listen on an IP address that is not one of this machine's.</summary>
        public const string AddressNotAvailable = "AddressNotAvailable";

        /// <summary>A listen refused by permissions (a port below 1024, a directory that may not be written).</summary>
        public const string ListenAccessDenied = "ListenAccessDenied";

        /// <summary>A unix socket to create in a directory that does not exist.</summary>
        public const string DirectoryNotFound = "SocketDirectoryNotFound";

        /// <summary>A connect to a unix socket path where there is no file.</summary>
        public const string NotFound = "SocketNotFound";

        /// <summary>A connect that nothing answers (a closed port, a socket file nobody listens on).</summary>
        public const string ConnectionRefused = "ConnectionRefused";

        /// <summary>A connect refused by the socket file's permissions.</summary>
        public const string ConnectAccessDenied = "ConnectAccessDenied";

        /// <summary>A socket path to listen on is taken by a file that may not be replaced.</summary>
        public const string PathExists = "SocketPathExists";

        /// <summary>A socket path to listen on is a file that is not a socket (it is left alone).</summary>
        public const string PathNotSocket = "SocketPathNotSocket";
    }

    /// <summary>Services of a session (NBD and xenstore servers) in general.</summary>
    public static class Service
    {
        /// <summary>No server of the session matches the name given to a listing (-Name of Get-NbdServer...).</summary>
        public const string NotFound = "ServiceNotFound";

        /// <summary>A server of that name already runs in the session.</summary>
        public const string NameInUse = "ServiceNameInUse";
    }

    /// <summary>NBD, client and server.</summary>
    public static class Nbd
    {
        /// <summary>The peer broke the protocol; the connection is torn down.</summary>
        public const string ProtocolError = "NbdProtocolError";

        /// <summary>A connect (with its handshake) did not finish within -ConnectTimeout.</summary>
        public const string ConnectTimeout = "NbdConnectTimeout";

        /// <summary>The server refused a request as invalid (EINVAL, EOVERFLOW) for a reason other than its range.</summary>
        public const string InvalidRequest = "NbdInvalidRequest";

        /// <summary>The server refused or failed a handshake option (an unknown export, TLS required...).</summary>
        public const string OptionRefused = "NbdOptionRefused";

        /// <summary>Another NBD server answers on the socket path.</summary>
        public const string ServerSocketInUse = "NbdServerSocketInUse";

        /// <summary>An NBD server's bind or listen failed for a reason with no shared socket id.</summary>
        public const string ServerBindFailed = "NbdServerBindFailed";

        /// <summary>No NBD server of the session has the name given to -Server.</summary>
        public const string ServerNotFound = "NbdServerNotFound";
    }

    /// <summary>Xenstore: the daemon's error replies (by errno name), the client, the embedded server, the session.</summary>
    public static class Xenstore
    {
        /// <summary>ENOENT: no such node (or transaction).</summary>
        public const string NotFound = "XenstoreNotFound";

        /// <summary>EACCES or EPERM: this domain may not do that.</summary>
        public const string AccessDenied = "XenstoreAccessDenied";

        /// <summary>EAGAIN: the transaction conflicted with another change; retrying it may succeed.</summary>
        public const string TransactionConflict = "XenstoreTransactionConflict";

        /// <summary>E2BIG: a path, value or reply is too big.</summary>
        public const string TooBig = "XenstoreTooBig";

        /// <summary>ENOSPC or EQUOTA: a quota of the domain is exhausted.</summary>
        public const string QuotaExceeded = "XenstoreQuotaExceeded";

        /// <summary>EINVAL: an invalid path, permission or request.</summary>
        public const string InvalidArgument = "XenstoreInvalidArgument";

        /// <summary>EEXIST: the node exists.</summary>
        public const string Exists = "XenstoreExists";

        /// <summary>EISCONN: the domain is already introduced.</summary>
        public const string AlreadyConnected = "XenstoreAlreadyConnected";

        /// <summary>EBUSY: the daemon is busy.</summary>
        public const string Busy = "XenstoreBusy";

        /// <summary>ENOSYS: the daemon does not support the request.</summary>
        public const string NotSupported = "XenstoreNotSupported";

        /// <summary>
        /// A wait ran out of time: a condition that did not hold within -Timeout (Watch-XenstorePath, ETIMEDOUT of the
        /// client's wait), or a store that did not answer a provider request within its time. One id for every
        /// timed-out xenstore wait (the provider's and ETIMEDOUT's former id was merged into this one).
        /// </summary>
        public const string WaitTimeout = "XenstoreWaitTimeout";

        /// <summary>ENOTEMPTY: the node has children.</summary>
        public const string NotEmpty = "XenstoreNotEmpty";

        /// <summary>EROFS: the store is read-only.</summary>
        public const string ReadOnly = "XenstoreReadOnly";

        /// <summary>ENOMEM: the daemon is out of memory.</summary>
        public const string OutOfMemory = "XenstoreOutOfMemory";

        /// <summary>EIO: a malformed or unexpected reply, or the daemon's I/O error.</summary>
        public const string IOError = "XenstoreIOError";

        /// <summary>EISDIR.</summary>
        public const string IsDirectory = "XenstoreIsDirectory";

        /// <summary>An error name with no id of its own.</summary>
        public const string Error = "XenstoreError";

        /// <summary>The client cannot connect (the xenbus device cannot be opened, the socket fails).</summary>
        public const string ConnectFailed = "XenstoreConnectFailed";

        /// <summary>The embedded server cannot make a socket pair for an in-process connection.</summary>
        public const string SocketPairFailed = "XenstoreSocketPairFailed";

        /// <summary>The embedded server cannot add a connection to its poll loop (epoll refused the descriptor).</summary>
        public const string AttachFailed = "XenstoreAttachFailed";

        /// <summary>
        /// The other end of a xenstore ring (<c>xenstore_domain_interface</c>) broke the ring's rules: an index that
        /// ran more than the ring's 1,024 bytes ahead or went backwards. The connection is closed.
        /// </summary>
        public const string RingBroken = "XenstoreRingBroken";

        /// <summary>The embedded server cannot listen on its socket path.</summary>
        public const string ListenFailed = "XenstoreListenFailed";

        /// <summary>Another xenstore server answers on the socket path.</summary>
        public const string SocketInUse = "XenstoreSocketInUse";

        /// <summary>No store is connected in this session (Connect-Xenstore or Start-XenstoreServer first).</summary>
        public const string NotConnected = "XenstoreNotConnected";

        /// <summary>Remove-XenstoreItem without -Recurse on a node with children.</summary>
        public const string ItemHasChildren = "XenstoreItemHasChildren";

        /// <summary>No xenstore server of the session has the name given to -Server.</summary>
        public const string ServerNotFound = "XenstoreServerNotFound";
    }

    /// <summary>
    /// The ids of .NET exceptions that reach a command from the framework rather than from the core (the PowerShell
    /// layer's <c>ErrorRecords</c> gives them).
    /// </summary>
    public static class Framework
    {
        /// <summary>An <see cref="ArgumentException"/>: a parameter value that can never succeed.</summary>
        public const string InvalidArgument = "InvalidArgument";

        /// <summary>A <see cref="FormatException"/>: a value that does not parse (a URI, a size).</summary>
        public const string InvalidFormat = "InvalidFormat";

        /// <summary>A certificate or key that cannot be loaded.</summary>
        public const string CertificateError = "CertificateError";

        /// <summary>An <see cref="UnauthorizedAccessException"/>.</summary>
        public const string AccessDenied = "AccessDenied";

        /// <summary>A file or directory that does not exist.</summary>
        public const string FileNotFound = "FileNotFound";

        /// <summary>Any other <see cref="IOException"/>.</summary>
        public const string IOError = "IOError";

        /// <summary>A <see cref="TimeoutException"/>.</summary>
        public const string OperationTimeout = "OperationTimeout";

        /// <summary>A failure the module did not expect (a defect): the command ends.</summary>
        public const string UnexpectedError = "UnexpectedError";
    }

    /// <summary>
    /// The Xen device nodes (<c>/dev/xen/evtchn</c>, <c>gntalloc</c>, <c>gntdev</c>). The category of each error comes
    /// from its errno (<c>Xen.XenDeviceException</c>), the id from the operation that failed.
    /// </summary>
    public static class Xen
    {
        /// <summary>The device node does not exist (not a Xen domain, or its driver module is not loaded).</summary>
        public const string NotFound = "XenDeviceNotFound";

        /// <summary>The device node exists but may not be opened (dom0 devices need root).</summary>
        public const string AccessDenied = "XenDeviceAccessDenied";

        /// <summary>The device node could not be opened for another reason.</summary>
        public const string OpenFailed = "XenDeviceOpenFailed";

        /// <summary>An event channel bind (unbound port or interdomain) was refused.</summary>
        public const string EventChannelBindFailed = "EventChannelBindFailed";

        /// <summary>The port is not bound through this event channel device (the kernel's ENOTCONN).</summary>
        public const string EventChannelNotBound = "EventChannelNotBound";

        /// <summary>A notify failed.</summary>
        public const string EventChannelNotifyFailed = "EventChannelNotifyFailed";

        /// <summary>An unbind failed.</summary>
        public const string EventChannelUnbindFailed = "EventChannelUnbindFailed";

        /// <summary>Reading pending ports, unmasking them or waiting for them failed.</summary>
        public const string EventChannelReadFailed = "EventChannelReadFailed";

        /// <summary>The device's ring of pending ports overflowed: events were lost, and the device must be reset.</summary>
        public const string EventChannelOverflow = "EventChannelOverflow";

        /// <summary>Granting pages to a domain (gntalloc's allocation or its mmap) failed.</summary>
        public const string GrantShareFailed = "GrantShareFailed";

        /// <summary>Mapping a domain's grants (gntdev's map or its mmap) failed: a bad reference or domain, or no room.</summary>
        public const string GrantMapFailed = "GrantMapFailed";

        /// <summary>
        /// A grant copy (gntdev's GRANT_COPY) failed: the device refused it, or Xen refused the copy (a bad reference or
        /// domain, a read-only grant written: the message names Xen's GNTST status).
        /// </summary>
        public const string GrantCopyFailed = "GrantCopyFailed";

        /// <summary>Setting the notification sent when a grant's mapping goes failed.</summary>
        public const string GrantUnmapNotifyFailed = "GrantUnmapNotifyFailed";

        /// <summary>
        /// A shared ring's peer broke the ring protocol (<c>xen/io/ring.h</c>): a producer index that went backwards or ran
        /// more than a ring ahead, or a response to a request it was never sent. The ring stops: every later call on it
        /// fails with this id.
        /// </summary>
        public const string RingBroken = "XenRingBroken";

        /// <summary>The event channel was closed by its other end (or the hypervisor, when that end's domain went away).</summary>
        public const string EventChannelClosed = "EventChannelClosed";
    }

    /// <summary>Xenbus devices: the state machine of a split device's two ends, driven through xenstore.</summary>
    public static class Xenbus
    {
        /// <summary>The end's own directory, or a key it must have (the peer's path or domain), is missing.</summary>
        public const string DeviceMissing = "XenbusDeviceMissing";

        /// <summary>A node of the device holds something that is not what the protocol says (a state, a domain id).</summary>
        public const string BadNode = "XenbusBadNode";

        /// <summary>The peer went away: its directory was removed or its domain was released.</summary>
        public const string PeerGone = "XenbusPeerGone";

        /// <summary>The peer did not reach the awaited state within the time limit.</summary>
        public const string StateTimeout = "XenbusStateTimeout";
    }

    /// <summary>The loopback hypervisor (Xen without Xen: domains as processes, grants in memfd pages, event channels as eventfds).</summary>
    public static class XenLoopback
    {
        /// <summary>The hypervisor's control socket could not be reached or created.</summary>
        public const string ConnectFailed = "XenLoopbackConnectFailed";

        /// <summary>Another loopback hypervisor (or another server) answers on the control socket path asked for.</summary>
        public const string SocketInUse = "XenLoopbackSocketInUse";

        /// <summary>No loopback hypervisor of that name runs in the session.</summary>
        public const string HypervisorNotFound = "XenLoopbackHypervisorNotFound";

        /// <summary>No joined loopback domain of that name is open in the session.</summary>
        public const string DomainNotJoined = "XenLoopbackDomainNotJoined";

        /// <summary>The hypervisor went away (its control socket closed): every grant, mapping and channel of the domain is gone.</summary>
        public const string HypervisorGone = "XenLoopbackHypervisorGone";

        /// <summary>A control message was malformed (the hypervisor answers it so and goes on serving).</summary>
        public const string ProtocolError = "XenLoopbackProtocolError";

        /// <summary>The domain id asked for is taken.</summary>
        public const string DomainIdInUse = "XenLoopbackDomainIdInUse";

        /// <summary>No such domain is joined.</summary>
        public const string DomainNotFound = "XenLoopbackDomainNotFound";

        /// <summary>A grant reference that the domain never granted to the caller, or that has ended.</summary>
        public const string GrantNotFound = "XenLoopbackGrantNotFound";

        /// <summary>A read-only grant was to be mapped (or copied into) writable.</summary>
        public const string GrantReadOnly = "XenLoopbackGrantReadOnly";

        /// <summary>Every page of the domain's grant arena is granted (or still mapped by a peer after its end).</summary>
        public const string GrantLimitReached = "XenLoopbackGrantLimitReached";

        /// <summary>No such event channel port, or it is not in the state the call needs (bind: unbound and meant for the caller).</summary>
        public const string PortNotFound = "XenLoopbackPortNotFound";

        /// <summary>A system call of the loopback hypervisor (memfd, mmap, eventfd, sendmsg) failed.</summary>
        public const string SystemCallFailed = "XenLoopbackSystemCallFailed";

        /// <summary>The hypervisor runs no xenstore, so the domain has no xenstore ring (or its ring is in use by another client).</summary>
        public const string NoXenstore = "XenLoopbackNoXenstore";
    }
}
