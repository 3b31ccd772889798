using VirtualDevices.Interop;

namespace VirtualDevices.Xen.EventChannels;

/// <summary>
/// One port bound through its own open of <c>/dev/xen/evtchn</c>: the device's descriptor is readable exactly while
/// this port is pending, so a waiter polls it directly (one wake-up, no dispatcher thread between).
/// </summary>
/// <remarks>
/// The driver masks a port when it fires and queues it once; events that arrive while it is masked stay pending in
/// Xen and are delivered once at unmask. Consuming reads the port and unmasks it at once: everything that arrived
/// before the read coalesced into it, and what comes after fires again.
/// </remarks>
internal sealed class XenEventChannel : PolledEventChannel
{
    private readonly EventChannelDevice _device;

    internal XenEventChannel(EventChannelDevice device, uint port, ushort remoteDomain)
        : base(port, remoteDomain)
    {
        _device = device;
    }

    private protected override SafeFileDescriptor Descriptor => _device.Descriptor;

    private protected override string Source => _device.Path;

    /// <inheritdoc/>
    public override void Notify()
    {
        ThrowIfClosed();
        _device.Notify(Port);
    }

    private protected override int TryConsume()
    {
        Span<uint> ports = stackalloc uint[4];
        int read = _device.TryReadPending(ports);
        if (read == 0)
        {
            return 0;
        }

        _device.Unmask(Port);
        return 1;
    }

    private protected override void Close() => _device.Dispose();
}
