using System.Buffers.Binary;
using System.Net.Sockets;
using VirtualDevices.Interop;
using VirtualDevices.Xen.Grants;
using VirtualDevices.Xen.Loopback;

namespace VirtualDevices.Tests.Xen.Loopback;

/// <summary>
/// Hostile peers on the loopback hypervisor's control socket, written byte by byte: garbage, requests before a join,
/// joins that lie, references never granted, a peer that floods without reading. Each gets a typed answer (or is
/// dropped), and the hypervisor goes on serving the well-behaved domains.
/// </summary>
public sealed class LoopbackHostileTests : IAsyncLifetime
{
    private readonly string _socket = Path.Combine(Path.GetTempPath(), $"vd-loopback-{Guid.NewGuid():N}.sock");
    private LoopbackHypervisor _hypervisor = null!;
    private LoopbackDomain _dom0 = null!;
    private LoopbackDomain _dom1 = null!;

    public Task InitializeAsync()
    {
        _hypervisor = LoopbackHypervisor.Start(_socket);
        _dom0 = _hypervisor.JoinInProcess(0);
        _dom1 = LoopbackDomain.Join(_socket);
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        _dom1.Dispose();
        _dom0.Dispose();
        await _hypervisor.DisposeAsync();
    }

    private Socket Connect()
    {
        var socket = new Socket(AddressFamily.Unix, SocketType.Seqpacket, ProtocolType.Unspecified) { ReceiveTimeout = 10_000 };
        socket.Connect(new UnixDomainSocketEndPoint(_socket));
        return socket;
    }

    private static byte[] Message(uint type, uint arg0 = 0, uint arg1 = 0, params uint[] items)
    {
        byte[] bytes = new byte[24 + (items.Length * 4)];
        BinaryPrimitives.WriteUInt32LittleEndian(bytes, type);
        BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(8), arg0);
        BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(12), arg1);
        BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(20), (uint)items.Length);
        for (int i = 0; i < items.Length; i++)
        {
            BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(24 + (4 * i)), items[i]);
        }

        return bytes;
    }

    /// <summary>Sends raw bytes and returns the reply's status (the hypervisor's LoopbackStatus).</summary>
    private static int Exchange(Socket socket, byte[] bytes)
    {
        socket.Send(bytes);
        byte[] reply = new byte[70_000];
        int received = socket.Receive(reply);
        Assert.True(received >= 24, $"a reply of {received} bytes");
        return BinaryPrimitives.ReadInt32LittleEndian(reply.AsSpan(4));
    }

    /// <summary>The well-behaved domains still share a page and exchange an event.</summary>
    private void AssertStillServing()
    {
        using IGrantedPages granted = _dom1.Grant(0, 1, GrantAccess.ReadWrite);
        granted.Memory.Span[0] = 0x42;
        using IMappedGrants mapping = _dom0.Map(_dom1.DomainId, granted.References, GrantAccess.ReadOnly);
        Assert.Equal(0x42, mapping.Memory.Span[0]);
        using var a = _dom0.AllocateUnbound(_dom1.DomainId);
        using var b = _dom1.BindInterdomain(0, a.Port);
        b.Notify();
        Assert.Equal(1, a.Wait(10_000));
    }

    [Fact]
    public void GarbageIsAnsweredAsAProtocolErrorAndServingGoesOn()
    {
        using Socket raw = Connect();
        long before = _hypervisor.ProtocolErrors;
        Assert.Equal(1, Exchange(raw, [1, 2, 3]));                                    // shorter than a header
        Assert.Equal(1, Exchange(raw, Message(2, items: [1, 2])[..28]));              // says 2 items, holds 1
        Assert.Equal(1, Exchange(raw, new byte[4000]));                               // type 0
        Assert.Equal(7, Exchange(raw, Message(2, 0, 0, 1)));                          // a grant before joining: NotJoined
        Assert.Equal(1, Exchange(raw, Message(1, 0xFFFF, 16)));                       // a join without its arena
        Assert.Equal(7, Exchange(raw, Message(0xDEAD, 1, 2, 3)));                     // an unknown type before joining: NotJoined
        Assert.Equal(7, Exchange(raw, Message(11)));                                  // a goodbye before joining: NotJoined
        Assert.Equal(1, Exchange(raw, Message(1, 0xFFFF, 0)));                        // a join with no pages
        Assert.True(_hypervisor.ProtocolErrors >= before + 5, $"{_hypervisor.ProtocolErrors - before} protocol errors counted");

        // From a joined domain: an unknown type, a second join, a grant of frames outside its arena.
        Assert.Equal(DeviceErrorIds.XenLoopback.ProtocolError, Assert.Throws<DeviceException>(() => _dom0.Request(new LoopbackMessage((LoopbackMessageType)0xDEAD), "an unknown request")).ErrorId);
        Assert.Equal(DeviceErrorIds.XenLoopback.ProtocolError, Assert.Throws<DeviceException>(() => _dom0.Request(new LoopbackMessage(LoopbackMessageType.Join, arg0: 5, arg1: 1), "a second join")).ErrorId);
        Assert.Equal(DeviceErrorIds.XenLoopback.ProtocolError, Assert.Throws<DeviceException>(() => _dom0.Request(new LoopbackMessage(LoopbackMessageType.Grant, arg0: 1, items: [uint.MaxValue]), "a frame outside the arena")).ErrorId);
        AssertStillServing();
    }

    [Fact]
    public void APeerThatSaysGoodbyeIsGoneAndWhatItSendsAfterIsNotServed()
    {
        // Leave, then more requests on the same socket: the departure is whole at the reply, and the hypervisor has
        // closed the connection (a domain cannot come back from the dead through its old socket).
        using LoopbackDomain peer = LoopbackDomain.Join(_socket);
        using IGrantedPages granted = peer.Grant(0, 1, GrantAccess.ReadWrite);
        ushort id = peer.DomainId;
        using LoopbackMessage left = peer.Request(new LoopbackMessage(LoopbackMessageType.Leave), "leaving");
        Assert.Equal(LoopbackStatus.Ok, left.Status);
        Assert.DoesNotContain(_hypervisor.Domains, d => d.DomainId == id);
        Assert.DoesNotContain(_hypervisor.Grants, g => g.Granter == id);
        var error = Assert.Throws<DeviceException>(() => peer.Grant(0, 1, GrantAccess.ReadWrite));
        Assert.Equal(DeviceErrorIds.XenLoopback.HypervisorGone, error.ErrorId);
        AssertStillServing();
    }

    [Fact]
    public void AJoinWhoseArenaCouldShrinkOrIsNoMemfdIsRefused()
    {
        // An arena that could shrink would let its domain truncate pages under a mapper (SIGBUS there): refused, as
        // is a descriptor that is no memfd at all; a sealed arena of the same size joins.
        using Socket raw = Connect();
        using SafeFileDescriptor unsealed = Unix.MemfdCreate("hostile", Unix.MFD_CLOEXEC | Unix.MFD_ALLOW_SEALING);
        Assert.Equal(0, Unix.FTruncate(unsealed, 16 * Environment.SystemPageSize));
        using SafeFileDescriptor notMemfd = Unix.EventFd(0, Unix.EFD_CLOEXEC);
        foreach (SafeFileDescriptor arena in new[] { unsealed, notMemfd })
        {
            using var join = new LoopbackMessage(LoopbackMessageType.Join, arg0: LoopbackMessage.AnyDomain, arg1: 16, descriptor: arena, ownsDescriptor: false);
            Assert.Equal(0, join.Send(raw, dontWait: false));
            byte[] reply = new byte[64];
            Assert.True(raw.Receive(reply) >= 24);
            Assert.Equal(1, BinaryPrimitives.ReadInt32LittleEndian(reply.AsSpan(4)));
        }

        Assert.Equal(0, Unix.Fcntl(unsealed, Unix.F_ADD_SEALS, Unix.F_SEAL_SHRINK));
        using var sealedJoin = new LoopbackMessage(LoopbackMessageType.Join, arg0: LoopbackMessage.AnyDomain, arg1: 16, descriptor: unsealed, ownsDescriptor: false);
        Assert.Equal(0, sealedJoin.Send(raw, dontWait: false));
        byte[] accepted = new byte[64];
        Assert.True(raw.Receive(accepted) >= 24);
        Assert.Equal(0, BinaryPrimitives.ReadInt32LittleEndian(accepted.AsSpan(4)));
        Assert.Contains(_hypervisor.Domains, d => d.DomainId == BinaryPrimitives.ReadUInt32LittleEndian(accepted.AsSpan(8)));
        AssertStillServing();
    }

    [Fact]
    public void AJoinedPeerAskingForWhatIsNotItsIsRefusedTyped()
    {
        using LoopbackDomain peer = LoopbackDomain.Join(_socket);
        using IGrantedPages readOnly = _dom1.Grant(peer.DomainId, 1, GrantAccess.ReadOnly);
        using IGrantedPages toDom0 = _dom1.Grant(0, 1, GrantAccess.ReadWrite);

        Assert.Equal(DeviceErrorIds.XenLoopback.GrantReadOnly, Assert.Throws<DeviceException>(() => peer.Map(_dom1.DomainId, readOnly.References, GrantAccess.ReadWrite)).ErrorId);
        Assert.Equal(DeviceErrorIds.XenLoopback.GrantNotFound, Assert.Throws<DeviceException>(() => peer.Map(_dom1.DomainId, toDom0.References, GrantAccess.ReadOnly)).ErrorId);
        Assert.Equal(DeviceErrorIds.XenLoopback.GrantNotFound, Assert.Throws<DeviceException>(() => peer.Map(_dom1.DomainId, [0, 1, 7, uint.MaxValue], GrantAccess.ReadOnly)).ErrorId);
        AssertStillServing();
    }

    [Fact]
    public void AReadOnlyMapCannotBeMadeWritableEvenWithItsOwnDescriptor()
    {
        // The descriptor a read-only map receives is a read-only open of the arena: a mapper that tries to map it
        // writable itself (PROT_WRITE with MAP_SHARED) is refused by the kernel with EACCES.
        using IGrantedPages readOnly = _dom1.Grant(0, 1, GrantAccess.ReadOnly);
        using LoopbackMessage reply = _dom0.Request(
            new LoopbackMessage(LoopbackMessageType.Map, arg0: _dom1.DomainId, arg1: 0, items: readOnly.References.ToArray()), "a raw map");
        using SafeFileDescriptor? arena = reply.TakeDescriptor();
        Assert.NotNull(arena);
        long offset = (long)reply.Items[0] * Environment.SystemPageSize;
        IntPtr writable = Unix.MMap(IntPtr.Zero, (nuint)Environment.SystemPageSize, Unix.PROT_READ | Unix.PROT_WRITE, Unix.MAP_SHARED, arena, offset);
        int errno = System.Runtime.InteropServices.Marshal.GetLastPInvokeError();
        Assert.Equal(Unix.MAP_FAILED, writable);
        Assert.Equal(Unix.Errno.EACCES, errno);
        IntPtr readable = Unix.MMap(IntPtr.Zero, (nuint)Environment.SystemPageSize, Unix.PROT_READ, Unix.MAP_SHARED, arena, offset);
        Assert.NotEqual(Unix.MAP_FAILED, readable);
        Assert.Equal(0, Unix.MUnmap(readable, (nuint)Environment.SystemPageSize));
        using LoopbackMessage unmapped = _dom0.Request(
            new LoopbackMessage(LoopbackMessageType.Unmap, arg0: _dom1.DomainId, items: readOnly.References.ToArray()), "a raw unmap");
        Assert.Equal(GrantPeerUse.NotMapped, readOnly.PeerUse);
        AssertStillServing();
    }

    [Fact]
    public async Task APeerThatEndsAGrantWhileWeMapItLeavesOurPagesIntact()
    {
        using LoopbackDomain peer = LoopbackDomain.Join(_socket);
        IGrantedPages granted = peer.Grant(0, 2, GrantAccess.ReadWrite);
        granted.Memory.Span.Fill(0x3C);
        using IMappedGrants mapping = _dom0.Map(peer.DomainId, granted.References, GrantAccess.ReadWrite);

        // The peer ends the grant under us, then leaves altogether: our mapping still reads and writes its pages.
        Assert.Equal(GrantEndResult.Deferred, granted.End());
        Assert.True(mapping.Memory.Span.IndexOfAnyExcept((byte)0x3C) < 0);
        peer.Dispose();
        var departed = System.Diagnostics.Stopwatch.StartNew();
        while (_hypervisor.Domains.Any(d => d.DomainId == peer.DomainId))
        {
            Assert.True(departed.Elapsed < TimeSpan.FromSeconds(30), "the peer's departure was handled");
            await Task.Delay(10);
        }

        mapping.Memory.Span.Fill(0x5D);
        Assert.True(mapping.Memory.Span.IndexOfAnyExcept((byte)0x5D) < 0);
        AssertStillServing();
    }

    [Fact]
    public async Task APeerThatFloodsWithoutReadingIsDroppedAndOthersAreServed()
    {
        using Socket raw = Connect();
        raw.Blocking = false;
        byte[] garbage = new byte[60_000];
        int sent = 0;
        try
        {
            // Never reads its replies: its socket fills, and the hypervisor drops it rather than wait.
            for (int i = 0; i < 2000; i++)
            {
                raw.Send(garbage);
                sent++;
            }
        }
        catch (SocketException)
        {
            // The socket is full, or the hypervisor dropped the connection already.
        }

        Assert.True(sent > 0);
        for (int i = 0; i < 200 && _hypervisor.ProtocolErrors == 0; i++)
        {
            await Task.Delay(10);
        }

        AssertStillServing();
    }
}
