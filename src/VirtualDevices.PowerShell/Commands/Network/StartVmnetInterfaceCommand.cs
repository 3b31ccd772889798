using System.Net;
using VirtualDevices.Network;

namespace VirtualDevices.PowerShell.Commands.Network;

/// <summary>
/// <para type="synopsis">Starts a virtual network interface of this host (a TAP on Linux, a vmnet interface on macOS) and opens it as a network device of the session.</para>
/// <para type="description">
/// Frames the device writes are received by the host's kernel on the interface; frames the kernel sends out of it
/// are received by the device. -Mode says what the interface reaches: Host, an isolated link to this host (with
/// -HostAddress, the host's address on it); Shared, the same plus NAT to the outside (on Linux: IPv4 forwarding and an
/// nftables table of its own, both removed at stop); Bridged, a port of the existing bridge -BridgeName. The device
/// is named after the interface and is listed by Get-DeviceStats; stop it with Stop-VmnetInterface. Needs root (or
/// CAP_NET_ADMIN) on Linux, root or the vmnet entitlement on macOS.
/// </para>
/// </summary>
[Cmdlet(VerbsLifecycle.Start, "VmnetInterface", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Low, HelpUri = "https://github.com/VirtualDevices/VirtualDevices/blob/main/docs/VirtualDevices/Start-VmnetInterface.md")]
[OutputType(typeof(NetworkDevice))]
public sealed class StartVmnetInterfaceCommand : AsyncCmdlet
{
    /// <summary>What the interface reaches: Host (default), Shared (NAT to the outside) or Bridged (-BridgeName).</summary>
    [Parameter(Position = 0)]
    public NetworkInterfaceMode Mode { get; set; } = NetworkInterfaceMode.Host;

    /// <summary>
    /// The interface's name, also the device's (Linux: at most 15 bytes; one %d is numbered by the kernel). Default: vdtapN.
    /// An existing persistent TAP of that name is attached to.
    /// </summary>
    [Parameter]
    [ValidateLength(1, 15)]
    public string? Name { get; set; }

    /// <summary>The interface's MAC address (aa:bb:cc:dd:ee:ff); default: the one the kernel gives it.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? MacAddress { get; set; }

    /// <summary>The MTU (68 to 65521); default: the interface's (1500).</summary>
    [Parameter]
    [ValidateRange(68, 65521)]
    public int Mtu { get; set; }

    /// <summary>Host and Shared modes: the host's IPv4 address on the link with its prefix, such as 10.0.64.1/24 (Shared needs it: its subnet is translated).</summary>
    [Parameter]
    [ValidatePattern(@"^\d{1,3}(\.\d{1,3}){3}(/\d{1,2})?$")]
    public string? HostAddress { get; set; }

    /// <summary>Bridged mode: the existing bridge to attach the interface to.</summary>
    [Parameter]
    [ValidateLength(1, 15)]
    public string? BridgeName { get; set; }

    /// <summary>Linux: keep the interface after Stop-VmnetInterface, for another program (or a later start) to attach to.</summary>
    [Parameter]
    public SwitchParameter Persistent { get; set; }

    /// <summary>Linux: the queues of a multi-queue TAP (IFF_MULTI_QUEUE) when more than 1.</summary>
    [Parameter]
    [ValidateRange(1, 16)]
    public int Queues { get; set; } = 1;

    /// <summary>Linux: the network namespace (a name from ip netns add, or a path) to make the interface in.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? Namespace { get; set; }

    /// <inheritdoc/>
    protected override void ProcessRecord()
    {
        VirtualInterfaceOptions options;
        try
        {
            options = new VirtualInterfaceOptions
            {
                Name = Name,
                Mode = Mode,
                MacAddress = MacAddress is null ? null : VirtualDevices.Network.MacAddress.Parse(MacAddress),
                Mtu = MyInvocation.BoundParameters.ContainsKey(nameof(Mtu)) ? Mtu : null,
                BridgeName = BridgeName,
                Persistent = Persistent,
                Queues = Queues,
                Namespace = Namespace,
            };
            if (HostAddress is not null)
            {
                string[] parts = HostAddress.Split('/');
                options = options with
                {
                    HostAddress = IPAddress.Parse(parts[0]),
                    PrefixLength = parts.Length > 1 ? int.Parse(parts[1], System.Globalization.CultureInfo.InvariantCulture) : 24,
                };
            }
        }
        catch (FormatException e)
        {
            WriteError(ErrorRecords.FromException(e, MacAddress ?? HostAddress));
            return;
        }

        string target = Name ?? "a new interface";
        if (!ShouldProcess(target, $"Start a {Mode} mode virtual interface"))
        {
            return;
        }

        Run(_ =>
        {
            NetworkDevice device;
            if (Name is not null && HostNames.IsValid(Name))
            {
                // A fixed name is reserved in the session before the interface exists: a name the session already
                // uses then makes nothing (with -Persistent, an interface made first and closed again would stay).
                // A name outside the host's rule ("a/b", "tap%d") goes to the kernel, which numbers or refuses it.
                device = SessionHost.AddDevice(string.Empty, Name, _ => VirtualInterface.Start(options));
            }
            else
            {
                // The kernel numbers the name (vdtapN, or the user's %d): known only once the interface exists.
                device = VirtualInterface.Start(options);
                try
                {
                    SessionHost.AddDevice(device);
                }
                catch
                {
                    device.DisposeAsync().AsTask().GetAwaiter().GetResult();
                    throw;
                }
            }

            Emit(device);
            return Task.CompletedTask;
        }, target);
    }
}
