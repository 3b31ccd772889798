namespace VirtualDevices.Interop;

/// <summary>
/// macOS bindings (vmnet.framework, libxpc, libdispatch, the blocks runtime). Built on every OS, loaded only on macOS.
/// Not run on this project's machines (Linux): the values and layouts follow Apple's vmnet/vmnet.h, xpc/xpc.h and
/// the Clang blocks ABI, and have not been checked by a compiled program.
/// </summary>
internal static partial class MacOS
{
    /// <summary>vmnet.framework's binary.</summary>
    internal const string VmnetLibrary = "/System/Library/Frameworks/vmnet.framework/vmnet";

    /// <summary>libSystem: libxpc, libdispatch and the blocks runtime are re-exported by it.</summary>
    internal const string SystemLibrary = "/usr/lib/libSystem.B.dylib";

    /// <summary><c>operating_modes_t</c>.</summary>
    internal const uint VMNET_HOST_MODE = 1000, VMNET_SHARED_MODE = 1001, VMNET_BRIDGED_MODE = 1002;

    /// <summary><c>vmnet_return_t</c>.</summary>
    internal const uint VMNET_SUCCESS = 1000, VMNET_FAILURE = 1001, VMNET_MEM_FAILURE = 1002, VMNET_INVALID_ARGUMENT = 1003,
        VMNET_SETUP_INCOMPLETE = 1004, VMNET_INVALID_ACCESS = 1005, VMNET_PACKET_TOO_BIG = 1006, VMNET_BUFFER_EXHAUSTED = 1007,
        VMNET_TOO_MANY_PACKETS = 1008, VMNET_SHARING_SERVICE_BUSY = 1009, VMNET_NOT_AUTHORIZED = 1010;

    /// <summary><c>interface_event_t</c>: packets can be read.</summary>
    internal const uint VMNET_INTERFACE_PACKETS_AVAILABLE = 1 << 0;

    /// <summary>Packets one <c>vmnet_read</c> or <c>vmnet_write</c> takes at most (vmnet's documented limit is 200 per call).</summary>
    internal const int MaxPacketsPerCall = 32;

    /// <summary><c>struct vmpktdesc</c>: one packet of a read or write.</summary>
    [StructLayout(LayoutKind.Sequential)]
    internal unsafe struct VmPacketDescriptor
    {
        /// <summary><c>vm_pkt_size</c>: in, the room in the buffers; out, the packet's length.</summary>
        public nuint Size;

        /// <summary><c>vm_pkt_iov</c>.</summary>
        public IOVec* Iov;

        /// <summary><c>vm_pkt_iovcnt</c>.</summary>
        public uint IovCount;

        /// <summary><c>vm_flags</c>.</summary>
        public uint Flags;
    }

    /// <summary><c>struct iovec</c> (the same layout as Linux's).</summary>
    [StructLayout(LayoutKind.Sequential)]
    internal unsafe struct IOVec
    {
        public void* Base;
        public nuint Length;
    }

    /// <summary><c>vmnet_start_interface(xpc_object_t desc, dispatch_queue_t queue, void (^handler)(vmnet_return_t, xpc_object_t))</c>.</summary>
    [LibraryImport(VmnetLibrary, EntryPoint = "vmnet_start_interface")]
    internal static partial nint VmnetStartInterface(nint description, nint queue, nint completionBlock);

    /// <summary><c>vmnet_stop_interface(interface_ref, dispatch_queue_t, void (^handler)(vmnet_return_t))</c>.</summary>
    [LibraryImport(VmnetLibrary, EntryPoint = "vmnet_stop_interface")]
    internal static partial uint VmnetStopInterface(nint iface, nint queue, nint completionBlock);

    /// <summary><c>vmnet_interface_set_event_callback(interface_ref, interface_event_t, dispatch_queue_t, void (^)(interface_event_t, xpc_object_t))</c>.</summary>
    [LibraryImport(VmnetLibrary, EntryPoint = "vmnet_interface_set_event_callback")]
    internal static partial uint VmnetInterfaceSetEventCallback(nint iface, uint events, nint queue, nint callbackBlock);

    /// <summary><c>vmnet_read(interface_ref, struct vmpktdesc *packets, int *pktcnt)</c>: in, the descriptors; out, how many were filled.</summary>
    [LibraryImport(VmnetLibrary, EntryPoint = "vmnet_read")]
    internal static unsafe partial uint VmnetRead(nint iface, VmPacketDescriptor* packets, int* count);

    /// <summary><c>vmnet_write(interface_ref, struct vmpktdesc *packets, int *pktcnt)</c>.</summary>
    [LibraryImport(VmnetLibrary, EntryPoint = "vmnet_write")]
    internal static unsafe partial uint VmnetWrite(nint iface, VmPacketDescriptor* packets, int* count);
}
