using VirtualDevices.IO.Buffers;
using VirtualDevices.Network;

namespace VirtualDevices.Tests.Network;

/// <summary>A driver that receives what the test gives it, through the same protected calls a real driver uses.</summary>
internal sealed class TestNetworkDevice : NetworkDevice
{
    public TestNetworkDevice(int queueLength = 8, PageBufferPool? pool = null, int mtu = 1500)
        : base(null, "testnet", "test", MacAddress.CreateRandom(), mtu, queueLength, pool)
    {
    }

    public PageBufferPool Pool => ReceivePool;

    /// <summary>Receives a frame as a driver does: rent a page, fill it, deliver it. False when dropped or refused.</summary>
    public bool Receive(ReadOnlySpan<byte> frame)
    {
        if (!TryRentFrameBuffer(out PageLease page))
        {
            return false;
        }

        frame.CopyTo(page.Span);
        return Deliver(page, frame.Length);
    }

    public bool DeliverLength(int length) => TryRentFrameBuffer(out PageLease page) && Deliver(page, length);

    public void Fail(DeviceException error) => MarkDisconnected(error);

    public static byte[] Frame(int length, byte fill)
    {
        var frame = new byte[length];
        frame.AsSpan().Fill(fill);
        MacAddress.Broadcast.Write(frame);
        frame[12] = 0x88;
        frame[13] = 0xB5;
        return frame;
    }

    protected override ValueTask WriteCoreAsync(ReadOnlyMemory<byte> frame, CancellationToken cancellationToken) => default;
}
