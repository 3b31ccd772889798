using System.Buffers;
using System.Threading.Channels;

namespace VirtualDevices.Network;

/// <summary>
/// One end of an in-memory Ethernet link (like a veth pair): a frame written to one end is received by the other.
/// Each end queues a bounded number of frames; a frame arriving at a full queue is dropped and counted as a receive
/// drop of the receiving end, as a NIC drops frames its host does not collect.
/// </summary>
public sealed class MemoryNetworkDevice : NetworkDevice
{
    private readonly Channel<(byte[] Buffer, int Length)> _inbox;
    private MemoryNetworkDevice? _peer;

    private MemoryNetworkDevice(string? name, MacAddress mac, int mtu, int queueLength)
        : base(name, "memnet", "memory link", mac, mtu)
    {
        _inbox = Channel.CreateBounded<(byte[], int)>(new BoundedChannelOptions(queueLength)
        {
            SingleReader = true,
            FullMode = BoundedChannelFullMode.Wait,
        });
    }

    /// <summary>The other end of the link.</summary>
    public MemoryNetworkDevice Peer => _peer!;

    /// <summary>Creates a connected pair.</summary>
    /// <param name="mtu">The MTU of both ends (default 1500).</param>
    /// <param name="queueLength">Frames each end queues before dropping (default 256).</param>
    /// <param name="firstName">The first end's name, or null for <c>memnetN</c>.</param>
    /// <param name="secondName">The second end's name, or null for <c>memnetN</c>.</param>
    public static (MemoryNetworkDevice First, MemoryNetworkDevice Second) CreatePair(int mtu = 1500, int queueLength = 256, string? firstName = null, string? secondName = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(queueLength, 1);
        var first = new MemoryNetworkDevice(firstName, MacAddress.CreateRandom(), mtu, queueLength);
        var second = new MemoryNetworkDevice(secondName, MacAddress.CreateRandom(), mtu, queueLength);
        first._peer = second;
        second._peer = first;
        return (first, second);
    }

    /// <inheritdoc/>
    protected override ValueTask WriteCoreAsync(ReadOnlyMemory<byte> frame, CancellationToken cancellationToken)
    {
        MemoryNetworkDevice peer = _peer!;
        if (!peer.IsConnected)
        {
            Counters.SendDropped(); // the cable's other end is unplugged: the frame goes nowhere
            return default;
        }

        byte[] copy = ArrayPool<byte>.Shared.Rent(frame.Length);
        frame.Span.CopyTo(copy);
        if (!peer._inbox.Writer.TryWrite((copy, frame.Length)))
        {
            ArrayPool<byte>.Shared.Return(copy);
            peer.Counters.ReceiveDropped();
        }

        return default;
    }

    /// <inheritdoc/>
    protected override async ValueTask<int> ReceiveCoreAsync(Memory<byte> buffer, CancellationToken cancellationToken)
    {
        if (!await _inbox.Reader.WaitToReadAsync(cancellationToken).ConfigureAwait(false))
        {
            return 0;
        }

        if (!_inbox.Reader.TryRead(out (byte[] Buffer, int Length) item))
        {
            return await ReceiveCoreAsync(buffer, cancellationToken).ConfigureAwait(false);
        }

        item.Buffer.AsSpan(0, item.Length).CopyTo(buffer.Span);
        ArrayPool<byte>.Shared.Return(item.Buffer);
        return item.Length;
    }

    /// <inheritdoc/>
    protected override ValueTask DisconnectCoreAsync(CancellationToken cancellationToken)
    {
        _inbox.Writer.TryComplete();
        while (_inbox.Reader.TryRead(out (byte[] Buffer, int Length) item))
        {
            ArrayPool<byte>.Shared.Return(item.Buffer);
        }

        return default;
    }
}
