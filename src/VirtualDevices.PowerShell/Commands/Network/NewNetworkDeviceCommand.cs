using VirtualDevices.Network;

namespace VirtualDevices.PowerShell.Commands.Network;

/// <summary>
/// <para type="synopsis">Creates an in-memory Ethernet link: two network devices, a frame sent on one received by the other.</para>
/// </summary>
[Cmdlet(VerbsCommon.New, "NetworkDevice", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Low, HelpUri = "https://github.com/VirtualDevices/VirtualDevices/blob/main/docs/VirtualDevices/New-NetworkDevice.md")]
[OutputType(typeof(MemoryNetworkDevice))]
public sealed class NewNetworkDeviceCommand : AsyncCmdlet
{
    /// <summary>The first end's name in the session (default memnetN).</summary>
    [Parameter(Position = 0)]
    [ValidateHostName]
    public string? Name { get; set; }

    /// <summary>The other end's name (default memnetN).</summary>
    [Parameter]
    [ValidateHostName]
    public string? PeerName { get; set; }

    /// <summary>The MTU of both ends (default 1500).</summary>
    [Parameter]
    [ValidateRange(68, 65535)]
    public int Mtu { get; set; } = 1500;

    /// <summary>Frames each end queues for its reader before it drops (default 256).</summary>
    [Parameter]
    [ValidateRange(1, 65536)]
    public int QueueLength { get; set; } = NetworkDevice.DefaultQueueLength;

    /// <inheritdoc/>
    protected override void EndProcessing()
    {
        if (!ShouldProcess(Name ?? "memnet", "Create an in-memory network link"))
        {
            return;
        }

        Run(_ =>
        {
            MemoryNetworkDevice? peer = null;
            // Both names are reserved before the pair is made: the first end's outside, the peer's inside.
            MemoryNetworkDevice first = SessionHost.AddDevice("memnet", Name, firstName =>
            {
                MemoryNetworkDevice made = null!;
                peer = SessionHost.AddDevice("memnet", PeerName, peerName =>
                {
                    (made, MemoryNetworkDevice second) = MemoryNetworkDevice.CreatePair(Mtu, QueueLength, firstName, peerName);
                    return second;
                });
                return made;
            });
            Emit(first);
            Emit(peer);
            return Task.CompletedTask;
        }, Name);
    }
}
