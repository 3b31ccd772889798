namespace VirtualDevices.Interop;

internal static partial class Unix
{
    /// <summary>
    /// The ioctls of Linux's <c>/dev/xen/evtchn</c> (<c>xen/evtchn.h</c> of linux-libc-dev; every number and struct
    /// checked by the C header test). Each is <c>_IOC(_IOC_NONE, 'E', nr, sizeof(struct))</c>: no direction bits, the
    /// argument size in bits 16-29. The three binds return the new local port as the ioctl's result.
    /// </summary>
    internal static class EvtchnIoctl
    {
        /// <summary>_IOC(_IOC_NONE, 'E', 1, 8): bind a port of a remote domain (<see cref="EvtchnBindInterdomain"/>).</summary>
        internal const nuint IOCTL_EVTCHN_BIND_INTERDOMAIN = 0x00084501;

        /// <summary>_IOC(_IOC_NONE, 'E', 2, 4): allocate a port a remote domain may bind (<see cref="EvtchnBindUnboundPort"/>).</summary>
        internal const nuint IOCTL_EVTCHN_BIND_UNBOUND_PORT = 0x00044502;

        /// <summary>_IOC(_IOC_NONE, 'E', 3, 4): close a port bound through this descriptor (<see cref="EvtchnPort"/>).</summary>
        internal const nuint IOCTL_EVTCHN_UNBIND = 0x00044503;

        /// <summary>_IOC(_IOC_NONE, 'E', 4, 4): send an event on a port bound through this descriptor (<see cref="EvtchnPort"/>).</summary>
        internal const nuint IOCTL_EVTCHN_NOTIFY = 0x00044504;

        /// <summary>_IOC(_IOC_NONE, 'E', 5, 0): empty the pending ring and clear its overflow flag.</summary>
        internal const nuint IOCTL_EVTCHN_RESET = 0x00004505;
    }

    /// <summary><c>struct ioctl_evtchn_bind_interdomain</c>.</summary>
    internal struct EvtchnBindInterdomain
    {
        public uint RemoteDomain;
        public uint RemotePort;
    }

    /// <summary><c>struct ioctl_evtchn_bind_unbound_port</c>.</summary>
    internal struct EvtchnBindUnboundPort
    {
        public uint RemoteDomain;
    }

    /// <summary>
    /// <c>struct ioctl_evtchn_unbind</c> and <c>struct ioctl_evtchn_notify</c>, which are the same single
    /// <c>unsigned int port</c> (the header test checks both).
    /// </summary>
    internal struct EvtchnPort
    {
        public uint Port;
    }
}
