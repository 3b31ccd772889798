using VirtualDevices.IO.Buffers;

namespace VirtualDevices.Network;

/// <summary>
/// One end of an in-memory Ethernet link (like a veth pair): a frame written to one end is received by the other.
/// Writing copies the frame once, straight into a pooled page of the receiving end, which hands it to its consumers
/// without further copies. Each end's listener queues a bounded number of frames; a frame arriving at a full queue
/// is dropped and counted as a receive drop of the receiving end, as a NIC drops frames its host does not collect.
/// </summary>
public sealed class MemoryNetworkDevice : NetworkDevice
{
    private MemoryNetworkDevice? _peer;

    private MemoryNetworkDevice(string? name, MacAddress mac, int mtu, int queueLength)
        : base(name, "memnet", "memory link", mac, mtu, queueLength)
    {
    }

    /// <summary>The other end of the link.</summary>
    public MemoryNetworkDevice Peer => _peer!;

    /// <summary>Creates a connected pair.</summary>
    /// <param name="mtu">The MTU of both ends (default 1500).</param>
    /// <param name="queueLength">Frames each end's listener queues before dropping (default 256).</param>
    /// <param name="firstName">The first end's name, or null for <c>memnetN</c>.</param>
    /// <param name="secondName">The second end's name, or null for <c>memnetN</c>.</param>
    public static (MemoryNetworkDevice First, MemoryNetworkDevice Second) CreatePair(int mtu = 1500, int queueLength = DefaultQueueLength, string? firstName = null, string? secondName = null)
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

        // Without a free page the peer counts the frame (RxNoBuffer): it left this end, as on a real link.
        if (peer.TryRentFrameBuffer(out PageLease page))
        {
            frame.Span.CopyTo(page.Span);
            if (!peer.Deliver(page, frame.Length))
            {
                Counters.SendDropped(); // unplugged while this frame was on the wire
            }
        }

        return default;
    }

    /// <inheritdoc/>
    protected override ValueTask WriteCoreAsync(IReadOnlyList<ReadOnlyMemory<byte>> fragments, int length, CancellationToken cancellationToken)
    {
        MemoryNetworkDevice peer = _peer!;
        if (!peer.IsConnected)
        {
            Counters.SendDropped();
            return default;
        }

        if (peer.TryRentFrameBuffer(out PageLease page))
        {
            // Gathered straight into the peer's page: still one copy per frame.
            Span<byte> destination = page.Span;
            int offset = 0;
            for (int i = 0; i < fragments.Count; i++)
            {
                ReadOnlySpan<byte> fragment = fragments[i].Span;
                fragment.CopyTo(destination[offset..]);
                offset += fragment.Length;
            }

            if (!peer.Deliver(page, length))
            {
                Counters.SendDropped();
            }
        }

        return default;
    }
}
