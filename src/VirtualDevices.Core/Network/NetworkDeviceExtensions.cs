using System.Runtime.CompilerServices;
using System.Threading.Channels;

namespace VirtualDevices.Network;

/// <summary>Convenience streams over <see cref="INetworkDevice.ListenAsync"/>.</summary>
public static class NetworkDeviceExtensions
{
    /// <summary>
    /// Receives frames as owned, decoded objects until the device disconnects or the token is cancelled. Frames the
    /// consumer does not collect in time (more than <paramref name="bufferedFrames"/> waiting) are dropped, as a NIC drops frames its host does not collect.
    /// </summary>
    /// <param name="device">The device to listen on.</param>
    /// <param name="bufferedFrames">How many frames may wait for the consumer.</param>
    /// <param name="cancellationToken">Stops receiving.</param>
    public static async IAsyncEnumerable<EthernetFrame> ReceiveFramesAsync(this INetworkDevice device, int bufferedFrames = 1024,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(device);
        var frames = Channel.CreateBounded<EthernetFrame>(new BoundedChannelOptions(bufferedFrames) { SingleReader = true, SingleWriter = true });
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        Task listening = Task.Run(async () =>
        {
            try
            {
                await device.ListenAsync(
                    (frame, _) =>
                    {
                        frames.Writer.TryWrite(new EthernetFrame(device.Name, DateTimeOffset.UtcNow, frame.Span));
                        return default;
                    },
                    stop.Token).ConfigureAwait(false);
                frames.Writer.TryComplete();
            }
            catch (Exception e)
            {
                frames.Writer.TryComplete(e is OperationCanceledException ? null : e);
            }
        }, CancellationToken.None);

        try
        {
            await foreach (EthernetFrame frame in frames.Reader.ReadAllAsync(cancellationToken).ConfigureAwait(false))
            {
                yield return frame;
            }
        }
        finally
        {
            await stop.CancelAsync().ConfigureAwait(false);
            await listening.ConfigureAwait(false);
        }
    }
}
