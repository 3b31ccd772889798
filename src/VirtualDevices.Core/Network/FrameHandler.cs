namespace VirtualDevices.Network;

/// <summary>
/// Receives one frame during <see cref="INetworkDevice.ListenAsync"/>. The memory is the device's pooled page, shared
/// with its other consumers, and is valid only until the returned task completes: copy what must outlive the call.
/// </summary>
/// <param name="frame">The whole Ethernet frame, header included, without the FCS.</param>
/// <param name="cancellationToken">The listener's token.</param>
public delegate ValueTask FrameHandler(ReadOnlyMemory<byte> frame, CancellationToken cancellationToken);
