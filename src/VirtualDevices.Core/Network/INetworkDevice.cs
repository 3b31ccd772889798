using VirtualDevices.Devices;

namespace VirtualDevices.Network;

/// <summary>
/// A device of Ethernet frames (after mirage-net): write a frame, or one frame gathered from several buffers; listen
/// for frames; MAC, MTU and 64-bit statistics; disconnect. Frames include the 14-byte Ethernet header (and a VLAN
/// tag when present) and exclude the FCS.
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
    /// Calls <paramref name="handler"/> for every frame received, one at a time, until the device is disconnected
    /// (the task then completes normally) or <paramref name="cancellationToken"/> is cancelled. One listener at a time.
    /// </summary>
    /// <param name="handler">Called for each frame; the frame's memory is valid only during the call.</param>
    /// <param name="cancellationToken">Stops listening.</param>
    ValueTask ListenAsync(FrameHandler handler, CancellationToken cancellationToken = default);
}
