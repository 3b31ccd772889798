using VirtualDevices.Network;
using VirtualDevices.Network.Frames;

namespace VirtualDevices.PowerShell.Commands.Network;

/// <summary>
/// <para type="synopsis">Receives Ethernet frames from network devices as decoded objects: all of them, or those a filter keeps.</para>
/// </summary>
[Cmdlet(VerbsCommunications.Receive, "NetworkFrame", HelpUri = "https://github.com/VirtualDevices/VirtualDevices/blob/main/docs/VirtualDevices/Receive-NetworkFrame.md")]
[OutputType(typeof(EthernetFrame))]
public sealed class ReceiveNetworkFrameCommand : AsyncCmdlet
{
    private readonly List<INetworkDevice> _devices = [];

    /// <summary>The network devices to receive from, or their names.</summary>
    [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true)]
    [DeviceTransformation]
    [ArgumentCompleter(typeof(DeviceNameCompleter))]
    public IDevice[] Device { get; set; } = null!;

    /// <summary>Stop after this many frames (those the filter keeps).</summary>
    [Parameter]
    [ValidateRange(1, int.MaxValue)]
    public int Count { get; set; }

    /// <summary>Seconds to receive; then stop quietly. Without -Count and -Timeout, receives until Ctrl+C.</summary>
    [Parameter]
    [ValidateRange(0.001, 31536000.0)]
    public double Timeout { get; set; }

    /// <summary>Keep only frames of these EtherTypes (after any VLAN tag), such as 0x0806 for ARP.</summary>
    [Parameter]
    public ushort[]? EtherType { get; set; }

    /// <summary>Keep only frames that carry one of these protocols: Arp, IPv4, IPv6, Tcp, Udp, Icmp, Icmpv6, Vlan.</summary>
    [Parameter]
    public FrameLayers[]? Protocol { get; set; }

    /// <summary>Keep only frames tagged with this VLAN id.</summary>
    [Parameter]
    [ValidateRange(0, 4095)]
    public int VlanId { get; set; }

    /// <summary>Keep only frames from or to this MAC address.</summary>
    [Parameter]
    public MacAddress MacAddress { get; set; }

    /// <summary>
    /// Watch through a tap instead of the listener: the frames sent and received are seen, and the device's listener
    /// (a switch, another command) still gets every frame. Without it the cmdlet is the device's listener.
    /// </summary>
    [Parameter]
    public SwitchParameter Monitor { get; set; }

    /// <inheritdoc/>
    protected override void ProcessRecord() => _devices.AddRange(NetworkDevices.Select(this, Device));

    /// <inheritdoc/>
    protected override void EndProcessing()
    {
        if (_devices.Count == 0)
        {
            return;
        }

        var filter = new FrameFilter
        {
            EtherTypes = EtherType,
            Layers = Protocol?.Aggregate(FrameLayers.None, (all, p) => all | p) ?? FrameLayers.None,
            VlanId = MyInvocation.BoundParameters.ContainsKey(nameof(VlanId)) ? VlanId : null,
            MacAddress = MyInvocation.BoundParameters.ContainsKey(nameof(MacAddress)) ? MacAddress : null,
        };
        TimeSpan? timeout = MyInvocation.BoundParameters.ContainsKey(nameof(Timeout)) ? TimeSpan.FromSeconds(Timeout) : null;
        int count = Count;
        Run(cancellationToken => ReceiveAsync(filter, timeout, count, cancellationToken), _devices[0].Name);
    }

    /// <summary>
    /// One loop over every device's reader: frames are taken from a device's queue one at a time, as the pipeline takes
    /// them, so that -Count takes exactly that many and the rest stay queued for the next reader.
    /// </summary>
    private async Task ReceiveAsync(FrameFilter filter, TimeSpan? timeout, int count, CancellationToken cancellationToken)
    {
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        if (timeout is TimeSpan limit)
        {
            stop.CancelAfter(limit);
        }

        // Every reader is opened before the first frame is awaited, so a listener already taken fails the command at once.
        var readers = new List<FrameReader>();
        try
        {
            foreach (INetworkDevice device in _devices)
            {
                readers.Add(Monitor ? (device is NetworkDevice nd ? nd.OpenTap(NetworkDevice.DefaultQueueLength, FrameDirection.Both) : device.OpenTap()) : device.OpenListener());
            }

            var waits = new Task<bool>?[readers.Count];
            var ended = new bool[readers.Count];
            int written = 0;
            while (true)
            {
                for (int i = 0; i < readers.Count; i++)
                {
                    if (waits[i] is null && !ended[i])
                    {
                        waits[i] = readers[i].WaitToReadAsync(stop.Token).AsTask();
                    }
                }

                Task<bool>[] pending = waits.Where(w => w is not null).ToArray()!;
                if (pending.Length == 0)
                {
                    return; // every device is disconnected and its frames were read
                }

                Task<bool> done = await Task.WhenAny(pending).ConfigureAwait(false);
                int index = Array.IndexOf(waits, done);
                waits[index] = null;
                bool more;
                try
                {
                    more = await done.ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (stop.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
                {
                    return; // -Timeout: the end, quietly
                }

                if (!more)
                {
                    ended[index] = true;
                    continue;
                }

                FrameReader reader = readers[index];
                while (reader.TryRead(out FrameLease lease))
                {
                    EthernetFrame? frame = null;
                    using (lease)
                    {
                        if (filter.Matches(lease.Span))
                        {
                            long nanoseconds = (lease.Timestamp.UtcTicks - DateTimeOffset.UnixEpoch.UtcTicks) * 100;
                            frame = new EthernetFrame(reader.Device, nanoseconds, lease.Direction, lease.Span);
                        }
                    }

                    if (frame is null)
                    {
                        continue;
                    }

                    await EmitAsync(frame).ConfigureAwait(false);
                    if (count > 0 && ++written == count)
                    {
                        return;
                    }
                }
            }
        }
        finally
        {
            foreach (FrameReader reader in readers)
            {
                reader.Dispose(); // ends the waits still pending
            }
        }
    }
}
