namespace VirtualDevices.Network;

/// <summary>
/// Receives one frame during <see cref="INetworkDevice.ListenAsync"/>. The memory belongs to the device and is valid
/// only until the returned task completes: copy what must outlive the call.
/// </summary>
/// <param name="frame">The whole Ethernet frame, header included, without the FCS.</param>
/// <param name="cancellationToken">Cancelled when listening stops.</param>
public delegate ValueTask FrameHandler(ReadOnlyMemory<byte> frame, CancellationToken cancellationToken);
