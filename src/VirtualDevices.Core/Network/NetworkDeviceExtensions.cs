using System.Runtime.CompilerServices;

namespace VirtualDevices.Network;

/// <summary>Convenience streams over a network device's listener.</summary>
public static class NetworkDeviceExtensions
{
    /// <summary>
    /// Receives frames as owned, decoded objects (each a copy, for the pipeline) until the device disconnects and
    /// the frames it received before are read, or the token is cancelled. This is the device's listener: frames wait
    /// in its queue (<see cref="NetworkDevice.ReceiveQueueLength"/>) until collected; those that find it full are
    /// dropped and counted in the device's <c>RxDrops</c>, as a NIC drops frames its host does not collect.
    /// </summary>
    /// <param name="device">The device to listen on.</param>
    /// <param name="cancellationToken">Stops receiving.</param>
    public static async IAsyncEnumerable<EthernetFrame> ReceiveFramesAsync(this INetworkDevice device,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(device);
        using FrameReader listener = device.OpenListener();
        while (await listener.WaitToReadAsync(cancellationToken).ConfigureAwait(false))
        {
            while (listener.TryRead(out FrameLease lease))
            {
                EthernetFrame frame;
                using (lease)
                {
                    frame = new EthernetFrame(device.Name, lease.Timestamp, lease.Span);
                }

                yield return frame;
            }
        }
    }
}
