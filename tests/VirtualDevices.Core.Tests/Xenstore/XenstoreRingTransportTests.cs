using System.Buffers.Binary;
using VirtualDevices.IO;
using VirtualDevices.Xen.EventChannels;
using VirtualDevices.Xen.Grants;
using VirtualDevices.Xen.Loopback;
using VirtualDevices.Xen.Xenstore.Protocol;

namespace VirtualDevices.Tests.Xenstore;

/// <summary>
/// The xenstore ring transport (<c>xenstore_domain_interface</c>) on a real shared page and event channel of the
/// loopback hypervisor: domain 1 grants the page and is the guest (writes <c>req</c>), domain 0 maps it and is the
/// daemon. Bytes both ways across the ring's wrap, a writer blocked on a full ring until the reader makes room, a
/// hostile peer's indices (a typed error, never an access out of the page or a hang), shutdown, and no allocation
/// per message.
/// </summary>
public sealed class XenstoreRingTransportTests : IAsyncLifetime
{
    private LoopbackHypervisor _hypervisor = null!;
    private LoopbackDomain _dom0 = null!;
    private LoopbackDomain _dom1 = null!;
    private IGrantedPages _granted = null!;
    private IMappedGrants _mapped = null!;
    private IEventChannel _guestChannel = null!;
    private IEventChannel _serverChannel = null!;
    private XenstoreRingTransport _guest = null!;
    private XenstoreRingTransport _server = null!;

    private unsafe byte* Page => (byte*)_mapped.Memory.Pin().Pointer;

    public unsafe Task InitializeAsync()
    {
        _hypervisor = LoopbackHypervisor.Start();
        _dom0 = _hypervisor.JoinInProcess(0);
        _dom1 = _hypervisor.JoinInProcess();
        _granted = _dom1.Grant(0, 1, GrantAccess.ReadWrite);
        _mapped = _dom0.Map(1, _granted.References, GrantAccess.ReadWrite);
        _guestChannel = _dom1.AllocateUnbound(0);
        _serverChannel = _dom0.BindInterdomain(1, _guestChannel.Port);
        _guest = new XenstoreRingTransport((byte*)_granted.Memory.Pin().Pointer, _guestChannel, server: false, "guest end", release: null);
        _server = new XenstoreRingTransport(Page, _serverChannel, server: true, "daemon end", release: null);
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        _guest.Dispose();
        _server.Dispose();
        _guestChannel.Dispose();
        _serverChannel.Dispose();
        _mapped.Dispose();
        _granted.Dispose();
        _dom1.Dispose();
        _dom0.Dispose();
        await _hypervisor.DisposeAsync();
    }

    [Fact]
    public unsafe void TheLayoutIsXsWireHs()
    {
        // Both ends wrote where xs_wire.h says: the guest's request at req[0], its producer at offset 2052.
        _guest.Send("abc"u8);
        Assert.Equal("abc"u8.ToArray(), new ReadOnlySpan<byte>(Page, 3).ToArray());
        Assert.Equal(3u, BinaryPrimitives.ReadUInt32LittleEndian(new ReadOnlySpan<byte>(Page + 2052, 4)));
        Assert.Equal(XenstoreRingLayout.FeatureError, BinaryPrimitives.ReadUInt32LittleEndian(new ReadOnlySpan<byte>(Page + 2064, 4)));
        Span<byte> buffer = stackalloc byte[8];
        Assert.Equal(3, _server.Receive(buffer));
        Assert.Equal(3u, BinaryPrimitives.ReadUInt32LittleEndian(new ReadOnlySpan<byte>(Page + 2048, 4))); // req_cons
        _server.Send("xy"u8);
        Assert.Equal("xy"u8.ToArray(), new ReadOnlySpan<byte>(Page + 1024, 2).ToArray());
        Assert.Equal(2u, BinaryPrimitives.ReadUInt32LittleEndian(new ReadOnlySpan<byte>(Page + 2060, 4))); // rsp_prod
    }

    [Fact(Timeout = 60_000)]
    public async Task ManyKilobytesCrossBothWaysThroughTheWrapAndAFullRingWaitsForTheReader()
    {
        // 64 KiB each way, far beyond a 1 KiB ring: every send past the first 1,024 bytes waits for the reader.
        byte[] request = Enumerable.Range(0, 65536).Select(i => (byte)(i * 7)).ToArray();
        byte[] response = Enumerable.Range(0, 65536).Select(i => (byte)(i * 13 + 1)).ToArray();
        Task<byte[]> serverReads = Task.Run(() => ReadAll(_server, request.Length));
        Task<byte[]> guestReads = Task.Run(() => ReadAll(_guest, response.Length));
        Task guestWrites = Task.Run(() => SendInPieces(_guest, request, 333));
        Task serverWrites = Task.Run(() => SendInPieces(_server, response, 1000));
        await Task.WhenAll(guestWrites, serverWrites);
        Assert.Equal(request, await serverReads);
        Assert.Equal(response, await guestReads);
    }

    [Fact]
    public unsafe void APeerProducerMoreThanARingAheadBreaksTheRingWithATypedError()
    {
        _guest.Send("ok"u8);
        Span<byte> buffer = stackalloc byte[64];
        Assert.Equal(2, _server.ReceiveNonBlocking(buffer));

        // The guest claims 1,025 bytes where a ring holds 1,024.
        BinaryPrimitives.WriteUInt32LittleEndian(new Span<byte>(Page + XenstoreRingLayout.RequestProducerOffset, 4), 2 + 1025);
        IOException error = Assert.Throws<IOException>(() => _server.ReceiveNonBlocking(new byte[64]));
        DeviceException typed = Assert.IsType<DeviceException>(error.InnerException);
        Assert.Equal(DeviceErrorIds.Xenstore.RingBroken, typed.ErrorId);
        Assert.Same(typed, _server.BrokenError);
        Assert.Equal(XenstoreRingLayout.ErrorRingIndex, BinaryPrimitives.ReadUInt32LittleEndian(new ReadOnlySpan<byte>(Page + XenstoreRingLayout.ErrorOffset, 4)));

        // Broken for good: no later call reads the page.
        Assert.Throws<IOException>(() => _server.ReceiveNonBlocking(new byte[64]));
        Assert.Throws<IOException>(() => _server.SendNonBlocking("x"u8));
    }

    [Fact]
    public unsafe void APeerProducerThatGoesBackwardsBreaksTheRing()
    {
        _guest.Send(new byte[100]);
        Span<byte> buffer = stackalloc byte[10];
        Assert.Equal(10, _server.ReceiveNonBlocking(buffer)); // seen at 100, consumed 10

        // Back to 50: still ahead of our consumer, but behind what the guest had already published.
        BinaryPrimitives.WriteUInt32LittleEndian(new Span<byte>(Page + XenstoreRingLayout.RequestProducerOffset, 4), 50);
        IOException error = Assert.Throws<IOException>(() => _server.ReceiveNonBlocking(new byte[10]));
        Assert.Equal(DeviceErrorIds.Xenstore.RingBroken, Assert.IsType<DeviceException>(error.InnerException).ErrorId);
    }

    [Fact]
    public unsafe void APeerConsumerAheadOfOurProducerOrGoingBackwardsBreaksTheRing()
    {
        _guest.Send(new byte[10]);

        // The daemon's consumer of the request ring claims 500 bytes the guest never wrote.
        BinaryPrimitives.WriteUInt32LittleEndian(new Span<byte>(Page + XenstoreRingLayout.RequestConsumerOffset, 4), 510);
        IOException error = Assert.Throws<IOException>(() => _guest.Send("more"u8));
        Assert.Equal(DeviceErrorIds.Xenstore.RingBroken, Assert.IsType<DeviceException>(error.InnerException).ErrorId);
        Assert.Equal(-1, _guest.Available);
    }

    [Fact]
    public unsafe void AnIndexRunningAroundTheWholeRangeNeverReadsOutsideTheRing()
    {
        // Every index value near the 32-bit wrap and the ring's edges: the transport reads only what the checks allow.
        uint[] hostile = [uint.MaxValue, uint.MaxValue - 1023, 0x8000_0000, 1024, 1025, 2048, 4096];
        foreach (uint producer in hostile)
        {
            BinaryPrimitives.WriteUInt32LittleEndian(new Span<byte>(Page + XenstoreRingLayout.RequestProducerOffset, 4), producer);
            using var server = new XenstoreRingTransport(Page, _serverChannel, server: true, "another daemon end", release: null);
            BinaryPrimitives.WriteUInt32LittleEndian(new Span<byte>(Page + XenstoreRingLayout.RequestProducerOffset, 4), producer + 2000);
            Assert.Throws<IOException>(() => server.ReceiveNonBlocking(new byte[4096]));
        }
    }

    [Fact(Timeout = 30_000)]
    public async Task ShutdownEndsABlockedReceiveAndABlockedSend()
    {
        Task<int> receive = Task.Run(() => _guest.Receive(new byte[16]));
        _guest.Send(new byte[1024]); // the request ring is full now: the next send waits for the daemon
        Task send = Task.Run(() => _guest.Send("one more"u8));
        await Task.Delay(100);
        Assert.False(receive.IsCompleted);
        Assert.False(send.IsCompleted);
        _guest.Shutdown();
        Assert.Equal(0, await receive);
        await Assert.ThrowsAsync<IOException>(() => send);
    }

    [Fact]
    public void AReadThatEmptiesAFullRingNotifiesTheWriter()
    {
        _guest.Send(new byte[1024]);
        while (_guestChannel.Wait(0) > 0)
        {
            // drain the guest's own port: what follows must come from the read
        }

        Span<byte> buffer = stackalloc byte[1024];
        Assert.Equal(1024, _server.ReceiveNonBlocking(buffer));
        Assert.True(_guestChannel.Wait(10_000) > 0, "the daemon's read of a full ring notified the guest");
    }

    [Fact]
    public void AMessageCostsNoAllocationEitherWay()
    {
        byte[] header = new byte[16];
        byte[] payload = new byte[48];
        byte[] buffer = new byte[256];
        int wrong = 0;
        for (int i = 0; i < 100; i++)
        {
            RoundTrip();
        }

        const int Messages = 20_000;
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < Messages; i++)
        {
            RoundTrip();
        }

        long perMessage = (GC.GetAllocatedBytesForCurrentThread() - before) / Messages;
        Console.WriteLine($"xenstore ring transport: {perMessage} bytes allocated per request and reply");
        Assert.Equal(0, wrong);
        Assert.Equal(0, perMessage);

        // No assertion inside the loop (xunit's Assert.Equal allocates); a wrong count is counted and checked after.
        void RoundTrip()
        {
            _guest.Send(header, payload);
            int read = _server.ReceiveNonBlocking(buffer);
            int sent = _server.SendNonBlocking(buffer.AsSpan(0, 64));
            int replied = _guest.Receive(buffer);
            if (read != 64 || sent != 64 || replied != 64)
            {
                wrong++;
            }
        }
    }

    private static byte[] ReadAll(Transport transport, int length)
    {
        byte[] all = new byte[length];
        Assert.True(transport.TryReceiveExactly(all));
        return all;
    }

    private static void SendInPieces(Transport transport, byte[] data, int piece)
    {
        for (int offset = 0; offset < data.Length; offset += piece)
        {
            transport.Send(data.AsSpan(offset, Math.Min(piece, data.Length - offset)));
        }
    }
}
