using VirtualDevices.Devices;

namespace VirtualDevices.Network;

/// <summary>
/// A device of Ethernet frames (after mirage-net): write a frame, or one frame gathered from several buffers; listen
/// for frames; MAC, MTU and 64-bit statistics; disconnect (errors: <see cref="DeviceDisconnectedException"/>,
/// <see cref="DeviceUnimplementedException"/>, <see cref="DeviceUnknownException"/>). Frames include the 14-byte
/// Ethernet header (and a VLAN tag when present) and exclude the FCS. Received frames live in pooled page buffers
/// shared, without copying, by the device's consumers: its listener and any taps, each with a bounded queue.
/// </summary>
public interface INetworkDevice : IDevice
{
    /// <summary>The device's own address.</summary>
    MacAddress MacAddress { get; }

    /// <summary>The largest payload (IP packet) a frame may carry, in bytes.</summary>
    int Mtu { get; }

    /// <summary>The largest frame accepted or delivered: the MTU plus the Ethernet header and one VLAN tag.</summary>
    int MaxFrameSize { get; }

    /// <summary>Sends one frame.</summary>
    /// <param name="frame">From 14 to <see cref="MaxFrameSize"/> bytes.</param>
    /// <param name="cancellationToken">Stops waiting for room to send.</param>
    /// <exception cref="FrameSizeException">The frame is too short or too long.</exception>
    /// <exception cref="DeviceDisconnectedException">The device is disconnected.</exception>
    ValueTask WriteAsync(ReadOnlyMemory<byte> frame, CancellationToken cancellationToken = default);

    /// <summary>Sends one frame gathered from several buffers (for instance a header and a payload).</summary>
    /// <param name="fragments">The parts of the frame, in order; their total is the frame's length.</param>
    /// <param name="cancellationToken">Stops waiting for room to send.</param>
    ValueTask WriteAsync(IReadOnlyList<ReadOnlyMemory<byte>> fragments, CancellationToken cancellationToken = default);

    /// <summary>
    /// Calls <paramref name="handler"/> for every frame the listener's queue receives, one at a time, until the device
    /// is disconnected and the frames it received before are handled (the task then completes normally) or
    /// <paramref name="cancellationToken"/> is cancelled. This is the device's listener (<see cref="OpenListener"/>):
    /// one at a time. The handler sees the frame in the device's pooled page, not a copy.
    /// </summary>
    /// <param name="handler">Called for each frame; the frame's memory is valid only during the call.</param>
    /// <param name="cancellationToken">Stops listening.</param>
    /// <exception cref="DeviceDisconnectedException">The device is disconnected.</exception>
    /// <exception cref="DeviceException"><c>DeviceListenerActive</c>: the device already has a listener.</exception>
    ValueTask ListenAsync(FrameHandler handler, CancellationToken cancellationToken = default);

    /// <summary>
    /// Opens the device's listener: the consumer whose queue (<see cref="NetworkDevice.ReceiveQueueLength"/> frames)
    /// exists as long as the device and keeps frames while no one listens, as a NIC's ring does. One at a time; dispose
    /// it to let another listen. Frames that find its queue full are counted in <c>RxDrops</c>.
    /// </summary>
    /// <exception cref="DeviceDisconnectedException">The device is disconnected.</exception>
    /// <exception cref="DeviceException"><c>DeviceListenerActive</c>: the device already has a listener.</exception>
    FrameReader OpenListener();

    /// <summary>
    /// Opens a tap: a consumer beside the listener (a capture, a monitor) that receives every frame arriving from now
    /// on, sharing the listener's pooled pages, in a queue of its own. Frames that find it full are counted in
    /// <c>TapDrops</c> and in the tap's <see cref="FrameReader.Dropped"/>; the listener is not slowed. Up to
    /// <see cref="NetworkDevice.MaxTaps"/> at once.
    /// </summary>
    /// <param name="capacity">Frames its queue holds.</param>
    /// <exception cref="DeviceDisconnectedException">The device is disconnected.</exception>
    /// <exception cref="DeviceException"><c>NetworkTapLimit</c>: too many taps.</exception>
    FrameReader OpenTap(int capacity = NetworkDevice.DefaultQueueLength);
}
