using System.Buffers.Binary;
using System.Diagnostics;
using System.Globalization;
using VirtualDevices.Xen.EventChannels;
using VirtualDevices.Xen.Grants;
using VirtualDevices.Xen.Rings;
using VirtualDevices.Xen.Xenbus;
using VirtualDevices.Xen.Xenstore.Client;

namespace VirtualDevices.XenLab.Devices;

/// <summary>
/// Our xenbus device, grants, event channel and netif rings as the backend of the guest's own xen-netfront (Debian's
/// kernel): the device made as the toolstack makes it, the state machine to Connected, frames both ways through the
/// real rings (netif.h's slots, ids and responses as Linux's netback gives them), and a clean close started from each
/// side. The backend is filed under <c>backend/vd-vif</c>, so dom0's xen-netback (loaded for the lab's guest) never
/// sees it; the frontend finds it by its <c>backend</c> key, as libxl's qdisk backends are found.
/// </summary>
internal sealed class NetfrontChecks(Checks checks, Func<GuestPeer> peer, Func<IGrantTable> grants, Func<IEventChannels> events)
{
    private const string BackendType = "vd-vif";
    private const string BackendMac = "fe:ff:ff:ff:ff:ff";
    private const ushort ToDom0 = 0x88B5;
    private const ushort ToGuest = 0x88B6;
    private const int FrameCount = 200; // under the guest's transmit queue (1,000 frames): none dropped before the ring
    private const int WaitMilliseconds = 10_000;
    private static readonly TimeSpan StateLimit = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan CheckLimit = TimeSpan.FromSeconds(120);

    private LabNetback? _first;

    public void Run()
    {
        checks.Run("guest.netfront-connects", () =>
        {
            _first = LabNetback.Connect(peer(), grants(), events(), deviceId: 0);
            return _first.Describe();
        }, CheckLimit);

        checks.Run("guest.netfront-transmits", () => Transmit(First(), FrameCount, seed: 61), CheckLimit);
        checks.Run("guest.netfront-receives", () => Receive(First(), FrameCount, seed: 62), CheckLimit);

        checks.Run("guest.netfront-closes-from-the-guest", () =>
        {
            LabNetback back = First();
            GuestPeer guest = peer();
            int n = guest.Send($"net-unbind vif-{back.Address.DeviceId}");
            XenbusState asked = Sync(back.Device.WaitForPeerStateAsync(s => s is XenbusState.Closing or XenbusState.Closed, StateLimit));
            back.Release();
            XenbusState seen = Sync(back.Device.CloseAsync(StateLimit));
            guest.Ok(n, "net-unbind");
            XenbusState front = Sync(back.Device.ReadPeerStateAsync());
            Expect.True(front == XenbusState.Closed, $"xen-netfront ended Closed (was {front})");
            Sync(XenbusToolstack.RemoveAsync(guest.Xenstore, back.Address));
            guest.Call($"net-gone vif-{back.Address.DeviceId} {WaitMilliseconds}");
            _first = null;
            return $"the guest unbound xen-netfront: it asked {asked}; our close saw it {seen}, then Closed; the toolstack removed the device and the guest let it go";
        }, CheckLimit);

        checks.Run("guest.netfront-closes-from-dom0", () =>
        {
            GuestPeer guest = peer();
            using LabNetback back = LabNetback.Connect(guest, grants(), events(), deviceId: 1);
            back.Release();
            XenbusState seen = Sync(back.Device.CloseAsync(StateLimit));
            Expect.True(seen == XenbusState.Closed, $"xen-netfront answered our Closing with Closed (was {seen})");
            Expect.True(Sync(back.Device.ReadStateAsync()) == XenbusState.Closed, "our end is Closed");
            Sync(XenbusToolstack.RemoveAsync(guest.Xenstore, back.Address));
            guest.Call($"net-gone vif-{back.Address.DeviceId} {WaitMilliseconds}");
            return $"a second device ({back.Interface}) connected, then dom0 closed it: xen-netfront went {seen}; the toolstack removed it and the guest let it go";
        }, CheckLimit);
    }

    /// <summary>The frames the guest sends, each gathered from its slots (grant copy), checked, and every slot answered.</summary>
    private static string Transmit(LabNetback back, int count, uint seed)
    {
        GuestPeer guest = back.Guest;
        int n = guest.Send($"net-send {back.Interface} {count} {seed}");
        var frame = new byte[64 * 1024];
        int got = 0, other = 0, slots = 0, waits = 0;
        var watch = Stopwatch.StartNew();
        while (got < count)
        {
            int length = back.TryTakeFrame(frame, ref slots);
            if (length < 0)
            {
                Expect.True(watch.ElapsedMilliseconds < 60_000, $"{count} frames within 60 s ({got} came, {other} others)");
                if (!back.TxRing.FinalCheckForRequests())
                {
                    waits++;
                    Expect.True(back.Channel.Wait(WaitMilliseconds) >= 1, $"an event within {WaitMilliseconds / 1000} s ({got} of {count} frames)");
                }

                continue;
            }

            ReadOnlySpan<byte> f = frame.AsSpan(0, length);
            if (length < 18 || BinaryPrimitives.ReadUInt16BigEndian(f[12..]) != ToDom0)
            {
                other++; // the guest's own traffic once its link is up (IPv6 neighbour discovery, MLD)
                continue;
            }

            string? wrong = CheckFrame(f, got, seed, destination: [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF], source: back.GuestMac);
            Expect.True(wrong is null, $"frame {got} as the guest sent it: {wrong}");
            got++;
        }

        string sent = guest.Ok(n, "net-send")[0];
        string[] stats = guest.Call($"net-stats {back.Interface}");
        Expect.True(long.Parse(stats[0], CultureInfo.InvariantCulture) >= count, $"the guest counts {count} frames sent at least (tx_packets {stats[0]})");
        return string.Create(CultureInfo.InvariantCulture,
            $"{back.Interface}: {got} frames of 60-1514 bytes in {slots} slots, each checked (index, length, addresses, bytes), every slot answered OKAY; {other} other frames of the guest's; slept {waits}x; guest sent {sent}, tx_packets {stats[0]}");
    }

    /// <summary>Frames to the guest, each into a buffer it posted (grant copy), answered in the ring's order.</summary>
    private static string Receive(LabNetback back, int count, uint seed)
    {
        GuestPeer guest = back.Guest;
        // The guest runs one command at a time: its counters before, as net-recv holds it until the frames came.
        long before = long.Parse(guest.Call($"net-stats {back.Interface}")[1], CultureInfo.InvariantCulture);
        // The guest reads only after 500 ms: every frame waits in its socket first (the worst case, on purpose: CI saw
        // the default receive buffer overflow once when the guest's reader fell behind under emulation).
        int n = guest.Send($"net-recv {back.Interface} {count} {seed} 30000 500");
        guest.Ok(n, "net-recv", expected: "setup");
        var frame = new byte[1514];
        int notifies = 0;
        for (int i = 0; i < count; i++)
        {
            NetifRxRequest buffer = back.TakeReceiveBuffer();
            int length = MakeFrame(frame, i, seed, destination: back.GuestMac, source: [0xFE, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF], ToGuest);
            back.Grants.CopyToGrant(guest.DomainId, buffer.Gref, 0, frame.AsSpan(0, length));
            back.RxRing.ProduceResponse(new NetifRxResponse { Id = buffer.Id, Offset = 0, Flags = 0, Status = (short)length });
            if ((i % 16 == 15 || i == count - 1) && back.RxRing.PushResponses())
            {
                back.Channel.Notify();
                notifies++;
            }
        }

        string[] answer = guest.Ok(n, "net-recv", TimeSpan.FromSeconds(40));
        string received = answer[0];
        Expect.True(answer is [_, "dropped", "0"], $"the guest's socket dropped nothing ({string.Join(' ', answer)})");
        long after = long.Parse(guest.Call($"net-stats {back.Interface}")[1], CultureInfo.InvariantCulture);
        Expect.True(after - before >= count, $"the guest counts {count} frames received (rx_packets {before} -> {after})");
        return string.Create(CultureInfo.InvariantCulture,
            $"{back.Interface}: {count} frames of 60-1514 bytes copied into the guest's posted buffers and answered in order; the guest's packet socket checked {received} (index, length, address, bytes); dom0 notified {notifies}x; rx_packets {before} -> {after}");
    }

    /// <summary>As guest-peer.c's frame(): 60-1514 bytes by index, the index big-endian after the header, then a pattern.</summary>
    private static int FrameLength(int i) => 60 + (i * 97 % 1455);

    private static byte FrameByte(uint seed, int i, int j) => (byte)((seed * 7) + ((uint)i * 13) + (uint)j);

    private static int MakeFrame(Span<byte> frame, int i, uint seed, ReadOnlySpan<byte> destination, ReadOnlySpan<byte> source, ushort type)
    {
        int length = FrameLength(i);
        destination.CopyTo(frame);
        source.CopyTo(frame[6..]);
        BinaryPrimitives.WriteUInt16BigEndian(frame[12..], type);
        BinaryPrimitives.WriteUInt32BigEndian(frame[14..], (uint)i);
        for (int j = 18; j < length; j++)
        {
            frame[j] = FrameByte(seed, i, j);
        }

        return length;
    }

    private static string? CheckFrame(ReadOnlySpan<byte> frame, int i, uint seed, ReadOnlySpan<byte> destination, ReadOnlySpan<byte> source)
    {
        uint index = BinaryPrimitives.ReadUInt32BigEndian(frame[14..]);
        if (index != (uint)i)
        {
            return $"index {index}";
        }

        if (frame.Length != FrameLength(i))
        {
            return $"{frame.Length} bytes, not {FrameLength(i)}";
        }

        if (!frame[..6].SequenceEqual(destination) || !frame[6..12].SequenceEqual(source))
        {
            return $"addresses {Convert.ToHexString(frame[..12])}";
        }

        for (int j = 18; j < frame.Length; j++)
        {
            if (frame[j] != FrameByte(seed, i, j))
            {
                return $"byte {j} is {frame[j]}, not {FrameByte(seed, i, j)}";
            }
        }

        return null;
    }

    private static T Sync<T>(ValueTask<T> task) => task.AsTask().GetAwaiter().GetResult();

    private static void Sync(ValueTask task) => task.AsTask().GetAwaiter().GetResult();

    private LabNetback First() => _first ?? throw new CheckFailedException("xen-netfront did not connect (guest.netfront-connects)");

    /// <summary>A minimal netback over the core's parts: enough to move frames, checked at every step.</summary>
    private sealed class LabNetback : IDisposable
    {
        private readonly Queue<NetifRxRequest> _posted = new();
        private readonly List<NetifTxRequest> _packet = [];
        private IMappedGrants? _tx;
        private IMappedGrants? _rx;
        private IEventChannel? _channel;

        private LabNetback(GuestPeer guest, IGrantTable grants, XenbusAddress address, XenbusDevice device)
        {
            Guest = guest;
            Grants = grants;
            Address = address;
            Device = device;
        }

        public GuestPeer Guest { get; }

        public IGrantTable Grants { get; }

        public XenbusAddress Address { get; }

        public XenbusDevice Device { get; }

        public string Interface { get; private set; } = "";

        public byte[] GuestMac { get; private set; } = [];

        public BackRing<NetifTxRequest, NetifTxResponse> TxRing { get; private set; } = null!;

        public BackRing<NetifRxRequest, NetifRxResponse> RxRing { get; private set; } = null!;

        public IEventChannel Channel => _channel ?? throw new CheckFailedException("the device's event channel is closed");

        private string Keys { get; set; } = "";

        private int FirstPosted { get; set; }

        public static LabNetback Connect(GuestPeer guest, IGrantTable grants, IEventChannels events, int deviceId)
        {
            string mac = string.Create(CultureInfo.InvariantCulture, $"00:16:3e:5a:11:{deviceId:x2}");
            var address = new XenbusAddress("vif", guest.DomainId, 0, deviceId) { BackendType = BackendType };
            var frontendKeys = new Dictionary<string, string> { ["mac"] = mac, ["handle"] = deviceId.ToString(CultureInfo.InvariantCulture) };
            var backendKeys = new Dictionary<string, string> { ["mac"] = BackendMac, ["handle"] = deviceId.ToString(CultureInfo.InvariantCulture) };
            Sync(XenbusToolstack.CreateAsync(guest.Xenstore, address, frontendKeys, backendKeys));
            XenbusDevice device = Sync(XenbusDevice.OpenAsync(guest.Xenstore, XenbusRole.Backend, address.BackendPath));
            var back = new LabNetback(guest, grants, address, device);
            try
            {
                back.Handshake(events);
                return back;
            }
            catch
            {
                back.Dispose();
                Sync(XenbusToolstack.RemoveAsync(guest.Xenstore, address));
                throw;
            }
        }

        public string Describe() => string.Create(CultureInfo.InvariantCulture,
            $"domain {Guest.DomainId}'s xen-netfront at {Address.FrontendPath}, ours at {Address.BackendPath}: InitWait -> its Connected ({Keys}) -> ours Connected; rings of {TxRing.Size}/{RxRing.Size} mapped, {FirstPosted} receive buffers posted (ids distinct); guest interface {Interface} up, MAC {Convert.ToHexString(GuestMac)}");

        /// <summary>One frame's slots taken whole (its extra-info slots answered NULL) and copied out, or -1 when none is there.</summary>
        public int TryTakeFrame(Span<byte> frame, ref int slots)
        {
            if (!TxRing.TryConsumeRequest(out NetifTxRequest first))
            {
                return -1;
            }

            // All of a frame's slots are pushed together (netfront pushes after the whole frame): what follows is there.
            _packet.Clear();
            _packet.Add(first);
            bool extra = (first.Flags & NetifFlags.TxExtraInfo) != 0;
            while (extra)
            {
                NetifTxRequest info = NextSlot();
                TxRing.ProduceResponse(new NetifTxResponse { Id = 0, Status = NetifFlags.ResponseNull });
                extra = ((byte)(info.Gref >> 8) & NetifFlags.ExtraFlagMore) != 0; // netif_extra_info: type, flags
            }

            NetifTxRequest last = first;
            while ((last.Flags & NetifFlags.TxMoreData) != 0)
            {
                last = NextSlot();
                _packet.Add(last);
                Expect.True(_packet.Count <= 18, "a frame of at most 18 slots (XEN_NETBK_LEGACY_SLOTS_MAX)");
            }

            // The first slot's size is the frame's; the others' are their own.
            int rest = 0;
            for (int k = 1; k < _packet.Count; k++)
            {
                rest += _packet[k].Size;
            }

            Expect.True(first.Size > rest && first.Size <= frame.Length, $"a frame of {first.Size} bytes over {_packet.Count} slot(s)");
            int at = 0;
            for (int k = 0; k < _packet.Count; k++)
            {
                NetifTxRequest slot = _packet[k];
                int size = k == 0 ? first.Size - rest : slot.Size;
                Expect.True(slot.Offset + size <= Grants.PageSize, $"slot {slot.Id} stays within its page (offset {slot.Offset}, {size} bytes)");
                Grants.CopyFromGrant(Guest.DomainId, slot.Gref, slot.Offset, frame.Slice(at, size));
                at += size;
                TxRing.ProduceResponse(new NetifTxResponse { Id = slot.Id, Status = NetifFlags.ResponseOkay });
            }

            slots += _packet.Count;
            if (TxRing.PushResponses())
            {
                Channel.Notify();
            }

            return at;
        }

        /// <summary>The next receive buffer the guest posted, waiting for one when the guest has none posted yet.</summary>
        public NetifRxRequest TakeReceiveBuffer()
        {
            var watch = Stopwatch.StartNew();
            while (_posted.Count == 0)
            {
                if (RxRing.TryConsumeRequest(out NetifRxRequest request))
                {
                    return request;
                }

                Expect.True(watch.ElapsedMilliseconds < WaitMilliseconds, $"the guest posts a receive buffer within {WaitMilliseconds / 1000} s");
                if (!RxRing.FinalCheckForRequests())
                {
                    Channel.Wait(100);
                }
            }

            return _posted.Dequeue();
        }

        /// <summary>Unmaps the rings and unbinds the channel (before the close: the frontend frees its pages after it).</summary>
        public void Release()
        {
            _tx?.Dispose();
            _rx?.Dispose();
            _channel?.Dispose();
            _tx = _rx = null;
            _channel = null;
        }

        public void Dispose() => Release();

        private void Handshake(IEventChannels events)
        {
            // As xen-netback: what we offer (netfront refuses a backend without the copying receive path), then InitWait.
            Sync(Device.WriteFeatureAsync("rx-copy", true));
            Sync(Device.SwitchStateAsync(XenbusState.InitWait));
            XenbusState front = Sync(Device.WaitForPeerStateAsync(s => s is not (XenbusState.Initialising or XenbusState.InitWait), StateLimit));
            Expect.True(front == XenbusState.Connected, $"xen-netfront connects after our InitWait (it went {front})");

            string txRef = Peer("tx-ring-ref"), rxRef = Peer("rx-ring-ref"), port = Peer("event-channel");
            Expect.True(Sync(Device.TryReadPeerAsync("request-rx-copy")) == "1", "xen-netfront asks for the copying receive path");
            Keys = $"tx-ring-ref {txRef}, rx-ring-ref {rxRef}, event-channel {port}";
            _tx = Grants.Map(Guest.DomainId, [uint.Parse(txRef, CultureInfo.InvariantCulture)], GrantAccess.ReadWrite);
            _rx = Grants.Map(Guest.DomainId, [uint.Parse(rxRef, CultureInfo.InvariantCulture)], GrantAccess.ReadWrite);
            _channel = events.BindInterdomain(Guest.DomainId, uint.Parse(port, CultureInfo.InvariantCulture));
            TxRing = new BackRing<NetifTxRequest, NetifTxResponse>(_tx.Memory, "netback-tx");
            RxRing = new BackRing<NetifRxRequest, NetifRxResponse>(_rx.Memory, "netback-rx");

            // xen-netfront posts its receive buffers as it connects: every id once, each below the ring's size.
            var ids = new HashSet<ushort>();
            while (RxRing.TryConsumeRequest(out NetifRxRequest request))
            {
                Expect.True(request.Id < RxRing.Size && ids.Add(request.Id), $"receive buffer id {request.Id} is new and below {RxRing.Size}");
                _posted.Enqueue(request);
            }

            FirstPosted = _posted.Count;
            Expect.True(FirstPosted > 0, "xen-netfront posted receive buffers before it said Connected");
            Sync(Device.WriteAsync("hotplug-status", "connected"));
            Sync(Device.SwitchStateAsync(XenbusState.Connected));

            Interface = Guest.Call($"net-name vif-{Address.DeviceId}")[0];
            string mac = Guest.Call($"net-up {Interface}")[0];
            GuestMac = Convert.FromHexString(mac.Replace(":", "", StringComparison.Ordinal));
            Expect.True(mac == Sync(Device.TryReadPeerAsync("mac")), $"the guest's interface has the MAC the toolstack gave it ({mac})");
        }

        private string Peer(string key) =>
            Sync(Device.TryReadPeerAsync(key)) ?? throw new CheckFailedException($"xen-netfront wrote no {key} (single queue, one event channel: we offer neither more)");

        private NetifTxRequest NextSlot()
        {
            var watch = Stopwatch.StartNew();
            NetifTxRequest slot;
            while (!TxRing.TryConsumeRequest(out slot))
            {
                Expect.True(watch.ElapsedMilliseconds < WaitMilliseconds, "a frame's further slots are pushed with its first");
                Thread.Yield();
            }

            return slot;
        }
    }
}
