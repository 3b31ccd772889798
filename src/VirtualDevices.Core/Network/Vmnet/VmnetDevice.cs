using System.Net;
using System.Runtime.CompilerServices;
using System.Runtime.Versioning;
using VirtualDevices.Interop;
using VirtualDevices.IO.Buffers;

namespace VirtualDevices.Network.Vmnet;

/// <summary>
/// A macOS vmnet.framework interface as a network device, in vmnet's host, shared or bridged mode: frames written
/// here go to the host's side of the interface (and, in shared mode, through its NAT), frames vmnet has for the
/// interface are received here. One packet per descriptor, as ocaml-vmnet; vmnet calls the device back on a dispatch
/// queue of its own when packets are available, and that callback reads them into pooled pages.
/// </summary>
/// <remarks>
/// NOT RUN: this project's machines are Linux, so this driver is compiled on every build but has never run. The
/// vmnet calls take Objective-C blocks; the device makes them in C# as global block literals (see
/// <see cref="MacOS.BlockLiteral"/>) whose invoke functions are <see cref="UnmanagedCallersOnlyAttribute"/> methods.
/// vmnet needs root or the <c>com.apple.vm.networking</c> entitlement: without either, the start fails with
/// VMNET_INVALID_ACCESS (or VMNET_NOT_AUTHORIZED on newer macOS), reported as <c>NetworkInterfaceAccessDenied</c>.
/// </remarks>
public sealed unsafe class VmnetDevice : NetworkDevice
{
    /// <summary>The driver's name.</summary>
    public const string DriverName = "vmnet";

    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(30);

    private readonly nint _interface;
    private readonly nint _queue;
    private readonly MacOS.BlockLiteral* _eventBlock;
    private readonly GCHandle _self;

    private VmnetDevice(string name, MacAddress mac, int mtu, VirtualInterfaceOptions options, nint iface, nint queue, MacOS.BlockLiteral* eventBlock, int maxPacketSize)
        : base(name, DriverName, $"vmnet {options.Mode.ToString().ToLowerInvariant()}{(options.BridgeName is null ? string.Empty : " on " + options.BridgeName)}", mac, mtu, options.ReceiveQueueLength)
    {
        Mode = options.Mode;
        MaxPacketSize = maxPacketSize;
        _interface = iface;
        _queue = queue;
        _eventBlock = eventBlock;
        _self = GCHandle.Alloc(this);
        eventBlock->Context = GCHandle.ToIntPtr(_self);
    }

    /// <summary>The mode the interface was started in.</summary>
    public NetworkInterfaceMode Mode { get; }

    /// <summary>The largest packet vmnet takes (vmnet_max_packet_size_key).</summary>
    public int MaxPacketSize { get; }

    /// <summary>Starts a vmnet interface and waits (up to 30 s) for vmnet to say it is up.</summary>
    /// <param name="options">Mode, MTU, bridged interface (BridgeName), and for shared or host mode the host's address (the DHCP range starts after it).</param>
    /// <exception cref="DeviceException">Not macOS, not allowed (root or the entitlement), or vmnet refused.</exception>
    public static NetworkDevice Start(VirtualInterfaceOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (!OperatingSystem.IsMacOS())
        {
            throw new DeviceException(DeviceErrorIds.Network.InterfaceUnsupported, DeviceErrorCategory.NotImplemented,
                "vmnet interfaces are macOS's; on Linux Start-VmnetInterface makes a TAP.", options.Name);
        }

        return StartOnMacOS(options);
    }

    /// <inheritdoc/>
    protected override ValueTask WriteCoreAsync(ReadOnlyMemory<byte> frame, CancellationToken cancellationToken)
    {
        using System.Buffers.MemoryHandle pin = frame.Pin();
        var iov = new MacOS.IOVec { Base = pin.Pointer, Length = (nuint)frame.Length };
        var packet = new MacOS.VmPacketDescriptor { Size = (nuint)frame.Length, Iov = &iov, IovCount = 1 };
        int count = 1;
        uint status = MacOS.VmnetWrite(_interface, &packet, &count);
        if (status == MacOS.VMNET_SUCCESS && count == 1)
        {
            return default;
        }

        if (status == MacOS.VMNET_BUFFER_EXHAUSTED || (status == MacOS.VMNET_SUCCESS && count == 0))
        {
            Counters.SendDropped(); // vmnet's buffers are full: dropped, as a full NIC ring drops
            return default;
        }

        throw status == MacOS.VMNET_PACKET_TOO_BIG
            ? new FrameSizeException(Name, frame.Length, EthernetHeaderSize, Math.Min(MaxFrameSize, MaxPacketSize))
            : Failure(Name, "vmnet_write", status);
    }

    /// <inheritdoc/>
    protected override ValueTask DisconnectCoreAsync(CancellationToken cancellationToken)
    {
        using var stopped = new StartState();
        MacOS.BlockLiteral* stopBlock = NewBlock(&OnStopped, stopped);
        try
        {
            if (MacOS.VmnetStopInterface(_interface, _queue, (nint)stopBlock) == MacOS.VMNET_SUCCESS)
            {
                stopped.Done.Wait(StartTimeout);
            }
        }
        finally
        {
            if (stopped.Done.IsSet)
            {
                FreeBlock(stopBlock); // else vmnet may still call it: leaked rather than freed under that call
            }

            // The event callback can no longer run once the stop completed (or the wait ran out: the block is then
            // leaked rather than freed under a callback that might still come).
            if (stopped.Done.IsSet)
            {
                FreeBlock(_eventBlock);
            }

            _self.Free();
            MacOS.DispatchRelease(_queue);
        }

        return default;
    }

    [SupportedOSPlatform("macos")]
    private static NetworkDevice StartOnMacOS(VirtualInterfaceOptions options)
    {
        nint description = MacOS.XpcDictionaryCreate(0, 0, 0);
        nint queue = MacOS.DispatchQueueCreate("virtualdevices.vmnet", 0);
        using var started = new StartState();
        MacOS.BlockLiteral* startBlock = NewBlock(&OnStarted, started);
        MacOS.BlockLiteral* eventBlock = null;
        try
        {
            MacOS.XpcDictionarySetUInt64(description, Key("vmnet_operation_mode_key"), options.Mode switch
            {
                NetworkInterfaceMode.Shared => MacOS.VMNET_SHARED_MODE,
                NetworkInterfaceMode.Bridged => MacOS.VMNET_BRIDGED_MODE,
                _ => MacOS.VMNET_HOST_MODE,
            });
            if (options.Mode == NetworkInterfaceMode.Bridged)
            {
                MacOS.XpcDictionarySetString(description, Key("vmnet_shared_interface_name_key"),
                    options.BridgeName ?? throw new ArgumentException("Bridged mode needs the physical interface to bridge to (BridgeName, such as en0).", nameof(options)));
            }

            if (options.Mtu is { } mtu)
            {
                MacOS.XpcDictionarySetUInt64(description, Key("vmnet_mtu_key"), (ulong)mtu);
            }

            if (options.HostAddress is { } host && options.Mode != NetworkInterfaceMode.Bridged)
            {
                // vmnet's range keys: the host (gateway) address starts it, the DHCP range runs to the subnet's last host.
                uint mask = options.PrefixLength == 32 ? uint.MaxValue : ~(uint.MaxValue >> options.PrefixLength);
                uint start = (uint)IPAddress.NetworkToHostOrder(BitConverter.ToInt32(host.GetAddressBytes()));
                uint end = (start & mask) | (~mask & 0xFFFF_FFFE);
                MacOS.XpcDictionarySetString(description, Key("vmnet_start_address_key"), host.ToString());
                MacOS.XpcDictionarySetString(description, Key("vmnet_end_address_key"), Format(end));
                MacOS.XpcDictionarySetString(description, Key("vmnet_subnet_mask_key"), Format(mask));
            }

            nint iface = MacOS.VmnetStartInterface(description, queue, (nint)startBlock);
            started.Called = iface != 0;
            if (iface == 0 || !started.Done.Wait(StartTimeout) || started.Status != MacOS.VMNET_SUCCESS)
            {
                throw iface == 0 || started.Done.IsSet
                    ? Failure(options.Name, "vmnet_start_interface", iface == 0 ? MacOS.VMNET_FAILURE : started.Status)
                    : new DeviceException(DeviceErrorIds.Network.InterfaceFailed, DeviceErrorCategory.OperationTimeout,
                        $"vmnet did not start the interface within {StartTimeout.TotalSeconds} s.", options.Name);
            }

            eventBlock = NewBlock(&OnPacketsAvailable, null);
            string name = options.Name ?? $"vmnet-{started.InterfaceId ?? Guid.NewGuid().ToString("N")[..8]}";
            var device = new VmnetDevice(name, MacAddress.TryParse(started.Mac, out MacAddress mac) ? mac : MacAddress.CreateRandom(),
                started.Mtu is >= 68 and <= 65535 ? started.Mtu : 1500, options, iface, queue, eventBlock, started.MaxPacketSize > 0 ? started.MaxPacketSize : 1518);
            eventBlock = null; // the device owns it now, and the queue
            queue = 0;
            uint status = MacOS.VmnetInterfaceSetEventCallback(iface, MacOS.VMNET_INTERFACE_PACKETS_AVAILABLE, device._queue, (nint)device._eventBlock);
            if (status != MacOS.VMNET_SUCCESS)
            {
                device.DisposeAsync().AsTask().GetAwaiter().GetResult();
                throw Failure(name, "vmnet_interface_set_event_callback", status);
            }

            return device;
        }
        catch
        {
            if (eventBlock is not null)
            {
                FreeBlock(eventBlock);
            }

            if (queue != 0)
            {
                MacOS.DispatchRelease(queue);
            }

            throw;
        }
        finally
        {
            // A start that timed out may still call its block: it is leaked rather than freed under that call.
            if (started.Done.IsSet || !started.Called)
            {
                FreeBlock(startBlock);
            }

            MacOS.XpcRelease(description);
        }
    }

    /// <summary>The string a <c>const char * const vmnet_..._key</c> of vmnet.framework points to.</summary>
    private static nint Key(string symbol) => Marshal.ReadIntPtr(NativeLibrary.GetExport(NativeLibrary.Load(MacOS.VmnetLibrary), symbol));

    private static string Format(uint address) => new IPAddress(BitConverter.GetBytes(IPAddress.HostToNetworkOrder((int)address))).ToString();

    private static DeviceException Failure(string? name, string call, uint status) => status switch
    {
        MacOS.VMNET_INVALID_ACCESS or MacOS.VMNET_NOT_AUTHORIZED => new DeviceException(DeviceErrorIds.Network.InterfaceAccessDenied, DeviceErrorCategory.PermissionDenied,
            $"{call}: vmnet refused access ({status}): run as root, or sign the program with the com.apple.vm.networking entitlement.", name),
        MacOS.VMNET_SHARING_SERVICE_BUSY => new DeviceException(DeviceErrorIds.Network.InterfaceBusy, DeviceErrorCategory.ResourceBusy,
            $"{call}: another sharing service uses the subnet (VMNET_SHARING_SERVICE_BUSY); stop it or choose another host address.", name),
        MacOS.VMNET_INVALID_ARGUMENT => new DeviceException(DeviceErrorIds.Network.InterfaceFailed, DeviceErrorCategory.InvalidArgument,
            $"{call}: vmnet refused an argument (VMNET_INVALID_ARGUMENT): the mode, MTU, address range or bridged interface.", name),
        _ => new DeviceException(DeviceErrorIds.Network.InterfaceFailed, DeviceErrorCategory.NotSpecified,
            $"{call} failed with vmnet status {status} (VMNET_FAILURE is 1001; root is needed without the entitlement).", name),
    };

    private static MacOS.BlockLiteral* NewBlock(delegate* unmanaged<MacOS.BlockLiteral*, uint, nint, void> invoke, object? context)
    {
        var block = (MacOS.BlockLiteral*)NativeMemory.AllocZeroed((nuint)(sizeof(MacOS.BlockLiteral) + sizeof(MacOS.BlockDescriptor)));
        var descriptor = (MacOS.BlockDescriptor*)(block + 1);
        descriptor->Size = (nuint)sizeof(MacOS.BlockLiteral);
        block->Isa = NativeLibrary.GetExport(NativeLibrary.Load(MacOS.SystemLibrary), "_NSConcreteGlobalBlock");
        block->Flags = MacOS.BLOCK_IS_GLOBAL;
        block->Invoke = (nint)invoke;
        block->Descriptor = (nint)descriptor;
        block->Context = context is null ? 0 : GCHandle.ToIntPtr(GCHandle.Alloc(context));
        return block;
    }

    private static MacOS.BlockLiteral* NewBlock(delegate* unmanaged<MacOS.BlockLiteral*, uint, void> invoke, object context) =>
        NewBlock((delegate* unmanaged<MacOS.BlockLiteral*, uint, nint, void>)invoke, context);

    private static void FreeBlock(MacOS.BlockLiteral* block)
    {
        if (block->Context != 0 && GCHandle.FromIntPtr(block->Context).Target is StartState)
        {
            GCHandle.FromIntPtr(block->Context).Free();
        }

        NativeMemory.Free(block);
    }

    /// <summary>The start block: <c>^(vmnet_return_t status, xpc_object_t interface_param)</c>.</summary>
    [UnmanagedCallersOnly]
    private static void OnStarted(MacOS.BlockLiteral* block, uint status, nint parameters)
    {
        try
        {
            Started(block, status, parameters);
        }
        catch (Exception e) when (e is ObjectDisposedException or InvalidOperationException or EntryPointNotFoundException)
        {
            // An exception must not escape into vmnet's queue (it would end the process); the start then times out.
        }
    }

    private static void Started(MacOS.BlockLiteral* block, uint status, nint parameters)
    {
        var state = (StartState)GCHandle.FromIntPtr(block->Context).Target!;
        state.Status = status;
        if (status == MacOS.VMNET_SUCCESS && parameters != 0)
        {
            state.Mac = Marshal.PtrToStringUTF8(MacOS.XpcDictionaryGetString(parameters, Key("vmnet_mac_address_key")));
            state.InterfaceId = Marshal.PtrToStringUTF8(MacOS.XpcDictionaryGetString(parameters, Key("vmnet_interface_id_key")));
            state.Mtu = (int)MacOS.XpcDictionaryGetUInt64(parameters, Key("vmnet_mtu_key"));
            state.MaxPacketSize = (int)MacOS.XpcDictionaryGetUInt64(parameters, Key("vmnet_max_packet_size_key"));
        }

        state.Done.Set();
    }

    /// <summary>The stop block: <c>^(vmnet_return_t status)</c>.</summary>
    [UnmanagedCallersOnly]
    private static void OnStopped(MacOS.BlockLiteral* block, uint status)
    {
        try
        {
            var state = (StartState)GCHandle.FromIntPtr(block->Context).Target!;
            state.Status = status;
            state.Done.Set();
        }
        catch (ObjectDisposedException)
        {
            // The stop's wait has ended already.
        }
    }

    /// <summary>The event block: <c>^(interface_event_t event, xpc_object_t event_param)</c>, on vmnet's queue.</summary>
    [UnmanagedCallersOnly]
    private static void OnPacketsAvailable(MacOS.BlockLiteral* block, uint events, nint parameters)
    {
        if (block->Context != 0 && GCHandle.FromIntPtr(block->Context).Target is VmnetDevice device && (events & MacOS.VMNET_INTERFACE_PACKETS_AVAILABLE) != 0)
        {
            try
            {
                device.ReadAvailable();
            }
            catch (Exception e) when (e is ObjectDisposedException or InvalidOperationException)
            {
                // The device is being disposed: the packets are left to vmnet.
            }
        }
    }

    /// <summary>Reads what vmnet has, a batch at a time, straight into pooled pages.</summary>
    private void ReadAvailable()
    {
        MacOS.VmPacketDescriptor* packets = stackalloc MacOS.VmPacketDescriptor[MacOS.MaxPacketsPerCall];
        MacOS.IOVec* vectors = stackalloc MacOS.IOVec[MacOS.MaxPacketsPerCall];
        Span<PageLease> pages = new PageLease[MacOS.MaxPacketsPerCall];
        while (IsConnected)
        {
            int rented = 0;
            while (rented < MacOS.MaxPacketsPerCall && TryRentFrameBuffer(out PageLease page))
            {
                pages[rented] = page;
                vectors[rented] = new MacOS.IOVec { Base = (void*)page.Address, Length = (nuint)page.Length };
                packets[rented] = new MacOS.VmPacketDescriptor { Size = (nuint)page.Length, Iov = &vectors[rented], IovCount = 1 };
                rented++;
            }

            if (rented == 0)
            {
                return; // no page free (counted as RxNoBuffer): vmnet keeps the packets and calls again
            }

            int count = rented;
            uint status = MacOS.VmnetRead(_interface, packets, &count);
            if (status != MacOS.VMNET_SUCCESS)
            {
                count = 0;
                Counters.ReceiveFailed();
            }

            for (int i = 0; i < rented; i++)
            {
                if (i < count)
                {
                    Deliver(pages[i], (int)packets[i].Size);
                }
                else
                {
                    pages[i].Dispose();
                }
            }

            if (count < rented)
            {
                return; // drained
            }
        }
    }

    /// <summary>What a start or stop block reports back.</summary>
    private sealed class StartState : IDisposable
    {
        public ManualResetEventSlim Done { get; } = new();

        public uint Status { get; set; }

        public string? Mac { get; set; }

        public string? InterfaceId { get; set; }

        public int Mtu { get; set; }

        public int MaxPacketSize { get; set; }

        /// <summary>True once vmnet accepted the block (it will call it).</summary>
        public bool Called { get; set; }

        /// <summary>Kept when the block may still be called (the wait ran out): its Set then finds it.</summary>
        public void Dispose()
        {
            if (Done.IsSet || !Called)
            {
                Done.Dispose();
            }
        }
    }
}
