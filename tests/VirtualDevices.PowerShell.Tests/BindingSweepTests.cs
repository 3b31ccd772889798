using System.Management.Automation;
using VirtualDevices.PowerShell.Tests.Engine;

namespace VirtualDevices.PowerShell.Tests;

/// <summary>
/// Every parameter that takes a device, a server, a xenstore store or item (found from the hosted engine's
/// <c>Get-Command -Module VirtualDevices</c>: by its type, or by its NodePath/FullName alias) is fed every kind of
/// object the module's own commands output, in every way its metadata allows: down the pipeline (by value, or by
/// property name where the object carries a property of the parameter's name), by name, by position, and as a name
/// string. Each case asserts that the command bound without error and acted on THAT object.
/// </summary>
public sealed class BindingSweepTests
{
    /// <summary>What a parameter takes.</summary>
    public enum Takes
    {
        Device,
        DeviceName,
        DeviceRecord,
        File,
        NbdServer,
        XenstoreServer,
        Store,
        Item,
        ItemRecord,
        NetworkDevice,
        CaptureFile,
        Hypervisor,
        JoinedDomain,
    }

    /// <summary>
    /// A kind of object: the script that makes it in a fresh session (it sets <c>$obj</c>, and <c>$name</c> to what
    /// identifies it: device or server name, node path, file path), what it is, and the properties it carries.
    /// </summary>
    private sealed record Source(string Id, Takes Kind, string Setup, params string[] Carries);

    /// <summary>What to add to the command line, and a PowerShell condition on <c>$out</c> (and <c>$name</c>) that holds when the command acted on the object.</summary>
    private sealed record Target(string Command, string Parameter, string Rest, string Check, Func<Source, bool>? Only = null, Takes? Kind = null);

    private const string NbdExport = """$null = New-BlockDevice -Size 1MB -Name exported; $null = Start-NbdServer -Device exported -SocketPath "$PWD/exported.sock" -Name srv-exported; """;
    private const string Xenstore = """$null = Start-XenstoreServer -Name srv-xs -SocketPath "$PWD/xs.sock"; Set-XenstoreItem /vd/node hello; Set-XenstoreItem /vd/marker srv-xs; $store = Connect-Xenstore -SocketPath "$PWD/xs.sock"; """;

    // Two loopback hypervisors, each with two domains, a grant and an unbound port: a command that acted on the other
    // one (or on both) shows domain 8's records.
    private const string Hypervisors = """$null = Start-XenLoopbackHypervisor -Name hv-x -SocketPath "$PWD/hv.sock"; $d7 = Join-XenLoopbackHypervisor -Hypervisor hv-x -DomainId 7; $d6 = Join-XenLoopbackHypervisor -Hypervisor hv-x -DomainId 6; $null = $d7.Grant(6, 1, 'ReadOnly'); $null = $d7.AllocateUnbound(6); $null = Start-XenLoopbackHypervisor -Name hv-other; $d8 = Join-XenLoopbackHypervisor -Hypervisor hv-other -DomainId 8; $null = Join-XenLoopbackHypervisor -Hypervisor hv-other -DomainId 9; $null = $d8.Grant(9, 1, 'ReadOnly'); $null = $d8.AllocateUnbound(9); """;

    private static readonly Source[] s_sources =
    [
        new("RAM disk from New-BlockDevice -Size", Takes.Device, "$obj = New-BlockDevice -Size 1MB -Name bd-ram; $name = 'bd-ram'", "Name"),
        new("image from New-BlockDevice -Path", Takes.Device, "$obj = New-BlockDevice -Path \"$PWD/new.img\" -Size 1MB -Name bd-img; $name = 'bd-img'", "Name"),
        new("image from Open-BlockDevice", Takes.Device, "[IO.File]::WriteAllBytes(\"$PWD/open.img\", [byte[]]::new(1MB)); $obj = Open-BlockDevice -Path \"$PWD/open.img\" -Name bd-open; $name = 'bd-open'", "Name"),
        new("NBD device from Connect-NbdDevice", Takes.Device, NbdExport + "$obj = Connect-NbdDevice -SocketPath \"$PWD/exported.sock\" -Name bd-nbd; $name = 'bd-nbd'", "Name"),
        new("device from Get-BlockDevice", Takes.Device, "$null = New-BlockDevice -Size 1MB -Name bd-listed; $obj = Get-BlockDevice -Name bd-listed; $name = 'bd-listed'", "Name"),
        new("info from Get-BlockDeviceInfo", Takes.DeviceRecord, "$null = New-BlockDevice -Size 1MB -Name bd-rec; $obj = Get-BlockDeviceInfo -Device (Get-BlockDevice -Name bd-rec); $name = 'bd-rec'", "Device"),
        new("sectors from Read-BlockDevice", Takes.DeviceRecord, "$null = New-BlockDevice -Size 1MB -Name bd-rec; $obj = Read-BlockDevice -Device (Get-BlockDevice -Name bd-rec) -Count 1; $name = 'bd-rec'", "Device"),
        new("statistics from Get-DeviceStats", Takes.DeviceRecord, "$null = New-BlockDevice -Size 1MB -Name bd-rec; $obj = Get-DeviceStats -Name bd-rec; $name = 'bd-rec'", "Device"),
        new("extent from Get-BlockDeviceAllocation", Takes.DeviceRecord, "$null = New-BlockDevice -Size 1MB -Name bd-rec; $obj = Get-BlockDeviceAllocation -Device (Get-BlockDevice -Name bd-rec) | Select-Object -First 1; $name = 'bd-rec'", "Device"),
        new("file from Get-Item", Takes.File, "[IO.File]::WriteAllBytes(\"$PWD/f.img\", [byte[]]::new(1MB)); $obj = Get-Item -LiteralPath \"$PWD/f.img\"; $name = $obj.FullName", "FullName"),
        new("file from Get-ChildItem", Takes.File, "[IO.File]::WriteAllBytes(\"$PWD/f.img\", [byte[]]::new(1MB)); $obj = Get-ChildItem -Path $PWD -Filter *.img; $name = $obj.FullName", "FullName"),
        new("NBD server from Start-NbdServer", Takes.NbdServer, "$null = New-BlockDevice -Size 1MB -Name exported; $obj = Start-NbdServer -Device exported -SocketPath \"$PWD/srv.sock\" -Name srv-nbd; $name = 'srv-nbd'", "Name"),
        new("NBD server from Get-NbdServer", Takes.NbdServer, "$null = New-BlockDevice -Size 1MB -Name exported; $null = Start-NbdServer -Device exported -SocketPath \"$PWD/srv.sock\" -Name srv-nbd; $obj = Get-NbdServer -Name srv-nbd; $name = 'srv-nbd'", "Name"),
        new("xenstore server from Start-XenstoreServer", Takes.XenstoreServer, "$obj = Start-XenstoreServer -Name srv-xs -SocketPath \"$PWD/xs.sock\"; Set-XenstoreItem /vd/marker srv-xs; $name = 'srv-xs'", "Name"),
        new("xenstore server from Get-XenstoreServer", Takes.XenstoreServer, "$null = Start-XenstoreServer -Name srv-xs -SocketPath \"$PWD/xs.sock\"; Set-XenstoreItem /vd/marker srv-xs; $obj = Get-XenstoreServer -Name srv-xs; $name = 'srv-xs'", "Name"),
        // -NoConnect: the session has no store of its own, so a command only works if -Store bound.
        new("store from Connect-Xenstore -Server", Takes.Store, "$srv = Start-XenstoreServer -Name srv-xs -SocketPath \"$PWD/xs.sock\" -NoConnect; $obj = Connect-Xenstore -Server $srv; Write-Node $obj /vd/node hello; $store = $obj; $name = '/vd/node'"),
        new("store from Connect-Xenstore -SocketPath", Takes.Store, "$null = Start-XenstoreServer -Name srv-xs -SocketPath \"$PWD/xs.sock\" -NoConnect; $obj = Connect-Xenstore -SocketPath \"$PWD/xs.sock\"; Write-Node $obj /vd/node hello; $store = $obj; $name = '/vd/node'"),
        new("item from Get-XenstoreItem", Takes.Item, Xenstore + "$obj = Get-XenstoreItem /vd/node; $name = '/vd/node'", "NodePath", "Store"),
        new("item from New-XenstoreItem", Takes.Item, Xenstore + "$obj = New-XenstoreItem /vd/other -Value hello; $name = '/vd/other'", "NodePath", "Store"),
        new("item from Get-Item Xs:", Takes.Item, Xenstore + "$obj = Get-Item Xs:/vd/node; $name = '/vd/node'", "NodePath", "Store"),
        new("item from Get-ChildItem Xs:", Takes.Item, Xenstore + "$obj = Get-ChildItem Xs:/vd | Where-Object Name -eq node; $name = '/vd/node'", "NodePath", "Store"),
        new("permissions from Get-XenstorePermission", Takes.ItemRecord, Xenstore + "$obj = Get-XenstorePermission /vd/node; $name = '/vd/node'", "NodePath"),
        new("network device from New-NetworkDevice", Takes.NetworkDevice, NetworkLink + "$obj = $nd; $name = 'nd-a'", "Name"),
        new("capture file from Get-Item", Takes.CaptureFile, CaptureFile + "$obj = Get-Item -LiteralPath \"$PWD/f.pcapng\"; $name = $obj.FullName", "FullName"),
        new("change from Watch-XenstorePath", Takes.ItemRecord, Xenstore + "$obj = Watch-XenstorePath /vd/node -Count 1 -Timeout 5; $name = '/vd/node'", "NodePath"),
        new("hypervisor from Start-XenLoopbackHypervisor", Takes.Hypervisor, "$obj = Start-XenLoopbackHypervisor -Name hv-x -SocketPath \"$PWD/hv.sock\"; " + Hypervisors.Replace("$null = Start-XenLoopbackHypervisor -Name hv-x -SocketPath \"$PWD/hv.sock\"; ", "", StringComparison.Ordinal) + "$name = 'hv-x'", "Name"),
        new("hypervisor from Get-XenLoopbackHypervisor", Takes.Hypervisor, Hypervisors + "$obj = Get-XenLoopbackHypervisor -Name hv-x; $name = 'hv-x'", "Name"),
        new("joined domain from Join-XenLoopbackHypervisor", Takes.JoinedDomain, Hypervisors + "$obj = Join-XenLoopbackHypervisor -SocketPath \"$PWD/hv.sock\" -Name dom-x; $name = 'dom-x'", "Name"),
        new("joined domain from Get-XenLoopbackDomain", Takes.JoinedDomain, Hypervisors + "$null = Join-XenLoopbackHypervisor -SocketPath \"$PWD/hv.sock\" -Name dom-x; $obj = Get-XenLoopbackDomain -Name dom-x; $name = 'dom-x'", "Name"),
    ];

    // A link whose end nd-a has one frame waiting for its listener (sent by its peer), and a capture file of one frame.
    private const string NetworkLink = """$nd, $peer = New-NetworkDevice -Name nd-a -PeerName nd-b; Send-NetworkFrame -Device $peer -Data ([byte[]](@(255) * 6 + @(2, 0, 0, 0, 0, 1, 0x88, 0xb5) + @(0) * 46)); """;
    private const string CaptureFile = """New-NetworkFrame -EtherType 0x88B5 -Source 02:00:00:00:00:01 | Export-NetworkCapture "$PWD/f.pcapng"; """;

    private const string Gone = "-not (Get-BlockDevice | Where-Object Name -eq $name)";
    private const string NodeGone = "$null -eq (Read-Node $store $name)";

    private static readonly Target[] s_targets =
    [
        new("Close-BlockDevice", "Device", "-Confirm:$false", Gone),
        new("Disconnect-NbdDevice", "Device", "-Confirm:$false", Gone, s => s.Id.StartsWith("NBD device", StringComparison.Ordinal)),
        new("Get-BlockDevice", "Name", "", "@($out).Count -eq 1 -and $out.Name -eq $name", Kind: Takes.DeviceName),
        new("Get-BlockDeviceAllocation", "Device", "", "@($out).Count -ge 1 -and @($out | Where-Object Device -ne $name).Count -eq 0"),
        new("Get-BlockDeviceAllocation", "Path", "", "@($out).Count -ge 1 -and @($out | Where-Object Length -le 0).Count -eq 0"),
        new("Get-BlockDeviceAllocation", "LiteralPath", "", "@($out).Count -ge 1 -and @($out | Where-Object Length -le 0).Count -eq 0"),
        new("Get-BlockDeviceInfo", "Device", "", "@($out).Count -eq 1 -and $out.Device -eq $name"),
        new("Get-BlockDeviceInfo", "Path", "", "@($out).Count -eq 1 -and $out.Location -eq $name"),
        new("Get-BlockDeviceInfo", "LiteralPath", "", "@($out).Count -eq 1 -and $out.Location -eq $name"),
        new("Get-DeviceStats", "Device", "", "@($out).Count -eq 1 -and $out.Device -eq $name"),
        new("Open-BlockDevice", "Path", "-Name opened", "@($out).Count -eq 1 -and $out.Location -eq $name -and (Get-BlockDevice -Name opened).Location -eq $name"),
        new("Read-BlockDevice", "Device", "-Count 1", "@($out).Count -eq 1 -and $out.Device -eq $name -and $out.Sector -eq 0"),
        new("Read-BlockDevice", "Path", "-Count 1", "@($out).Count -eq 1 -and $out.Data.Length -eq 512"),
        new("Read-BlockDevice", "LiteralPath", "-Count 1", "@($out).Count -eq 1 -and $out.Data.Length -eq 512"),
        new("Reset-DeviceStats", "Device", "-Confirm:$false", "(Get-DeviceStats | Where-Object Device -eq $name).ReadOps -eq 0 -and (Get-DeviceStats | Where-Object Device -eq 'witness').ReadOps -eq 1"),
        new("Start-NbdServer", "Device", "-SocketPath \"$PWD/export.sock\" -Name exporter", "@($out).Count -eq 1 -and $out.Exports.Device.Name -contains $name"),
        new("Start-NbdServer", "Path", "-SocketPath \"$PWD/export.sock\" -Name exporter", "@($out).Count -eq 1 -and $out.Exports.Device.Location -contains $name"),
        new("Write-BlockDevice", "Device", "-Sector 1 -Data ([byte[]](,7 * 512)) -Force", "(Read-BlockDevice -Device (Get-BlockDevice -Name $name) -Sector 1 -Count 1).Data[0] -eq 7"),
        new("Write-BlockDevice", "Path", "-Sector 1 -Data ([byte[]](,7 * 512)) -Force", "[IO.File]::ReadAllBytes($name)[512] -eq 7"),
        new("Write-BlockDevice", "LiteralPath", "-Sector 1 -Data ([byte[]](,7 * 512)) -Force", "[IO.File]::ReadAllBytes($name)[512] -eq 7"),
        new("Stop-NbdServer", "Server", "-Confirm:$false", "-not (Get-NbdServer | Where-Object Name -eq $name)"),
        new("Stop-XenstoreServer", "Server", "-Confirm:$false", "-not (Get-XenstoreServer | Where-Object Name -eq $name)"),
        new("Connect-Xenstore", "Server", "", "$out -is [VirtualDevices.Xen.Xenstore.Client.XenstoreClient] -and (Read-Node $out /vd/marker) -eq $name"),
        new("Disconnect-Xenstore", "Store", "-Confirm:$false", "-not $obj.IsConnected"),
        new("Get-XenstoreItem", "Path", "", "@($out).Count -eq 1 -and $out.NodePath -eq $name"),
        new("Get-XenstoreItem", "LiteralPath", "", "@($out).Count -eq 1 -and $out.NodePath -eq $name"),
        new("Get-XenstorePermission", "Path", "", "@($out).Count -eq 1 -and $out.NodePath -eq $name"),
        new("Get-XenstorePermission", "LiteralPath", "", "@($out).Count -eq 1 -and $out.NodePath -eq $name"),
        new("New-XenstoreItem", "Path", "-Value renewed -Force", "$out.NodePath -eq $name -and (Read-Node $store $name) -eq 'renewed'"),
        new("Remove-XenstoreItem", "Path", "-Confirm:$false", NodeGone),
        new("Remove-XenstoreItem", "LiteralPath", "-Confirm:$false", NodeGone),
        new("Set-XenstoreItem", "Path", "-Value changed", "(Read-Node $store $name) -eq 'changed'"),
        new("Set-XenstorePermission", "Path", "-Permission n0,r1 -PassThru", "@($out).Count -eq 1 -and $out.NodePath -eq $name -and \"$($store.GetPermissionsAsync($name).AsTask().GetAwaiter().GetResult())\" -match 'r1'"),
        new("Set-XenstorePermission", "LiteralPath", "-Permission n0,r1 -PassThru", "@($out).Count -eq 1 -and $out.NodePath -eq $name -and \"$($store.GetPermissionsAsync($name).AsTask().GetAwaiter().GetResult())\" -match 'r1'"),
        new("Watch-XenstorePath", "Path", "-Count 1 -Timeout 5", "@($out).Count -eq 1 -and $out.NodePath -eq $name"),
        new("Receive-NetworkFrame", "Device", "-Count 1 -Timeout 5", "@($out).Count -eq 1 -and $out.Device -eq $name", Kind: Takes.NetworkDevice),
        new("Send-NetworkFrame", "Device", "-Data ([byte[]](@(255) * 6 + @(2, 0, 0, 0, 0, 2, 0x88, 0xb5) + @(0) * 46))", "(Get-DeviceStats -Name $name).TxPackets -eq 1", Kind: Takes.NetworkDevice),
        new("Start-NetworkCapture", "Device", "-Path \"$PWD/c.pcapng\" -Name cap", "@($out).Count -eq 1 -and $out.Devices -contains $name", Kind: Takes.NetworkDevice),
        new("Import-NetworkCapture", "Path", "", "@($out).Count -eq 1 -and $out.Protocol -eq '0x88b5'", Kind: Takes.CaptureFile),
        new("Close-NetworkDevice", "Device", "-Force", "-not (Get-DeviceStats -Kind Network | Where-Object Device -eq $name)", Kind: Takes.NetworkDevice),
        new("Stop-XenLoopbackHypervisor", "Hypervisor", "-Confirm:$false", "-not (Get-XenLoopbackHypervisor | Where-Object Name -eq $name) -and $d7.IsDisconnected -and -not $d8.IsDisconnected"),
        new("Join-XenLoopbackHypervisor", "Hypervisor", "-DomainId 5", "$out.DomainId -eq 5 -and (Get-XenDomain -Hypervisor $name).DomainId -contains 5"),
        new("Get-XenDomain", "Hypervisor", "", "@($out).Count -eq 2 -and ($out.DomainId -join ',') -eq '6,7'"),
        new("Get-XenGrant", "Hypervisor", "", "@($out).Count -eq 1 -and $out.Granter -eq 7 -and $out.Grantee -eq 6"),
        new("Get-XenEventChannel", "Hypervisor", "", "@($out).Count -eq 1 -and $out.DomainId -eq 7 -and $out.RemoteDomain -eq 6"),
        new("Disconnect-XenLoopbackDomain", "Domain", "-Confirm:$false", "-not (Get-XenLoopbackDomain | Where-Object Name -eq $name) -and $obj.IsDisconnected -and -not $d7.IsDisconnected"),
    ];

    /// <summary>The same checks through <c>-Store</c>: a node path and the store's own client.</summary>
    private static readonly string[] s_storeCommands =
        ["Get-XenstoreItem", "Get-XenstorePermission", "New-XenstoreItem", "Remove-XenstoreItem", "Set-XenstoreItem", "Set-XenstorePermission", "Watch-XenstorePath", "Invoke-XenstoreTransaction"];

    /// <summary>What each parameter takes, from its metadata; null when it takes none of these objects.</summary>
    internal static Takes? Classify(EngineCommand command, EngineParameter parameter)
    {
        if (s_targets.FirstOrDefault(t => t.Command == command.Name && t.Parameter == parameter.Name)?.Kind is { } explicitKind)
        {
            return explicitKind;
        }

        // A -Path/-LiteralPath pair names the same thing (wildcards or not): the twin of a file path or node path
        // parameter takes what it takes, though only one of the pair carries the alias a pipeline binds by.
        bool twinOf(string alias) => parameter.Name is "Path" or "LiteralPath"
            && command.Parameters.Any(p => p.Name is "Path" or "LiteralPath" && p.Aliases.Contains(alias));
        return parameter.ElementType.FullName switch
        {
            "VirtualDevices.Block.IBlockDevice" or "VirtualDevices.Devices.IDevice" => Takes.Device,
            "VirtualDevices.Nbd.Server.NbdServer" => Takes.NbdServer,
            "VirtualDevices.Xen.Xenstore.Server.XenstoreServer" => Takes.XenstoreServer,
            "VirtualDevices.Xen.Xenstore.Client.XenstoreClient" => Takes.Store,
            "VirtualDevices.Xen.Loopback.LoopbackHypervisor" => Takes.Hypervisor,
            "VirtualDevices.Xen.Loopback.LoopbackDomain" => Takes.JoinedDomain,
            _ when parameter.Aliases.Contains("NodePath") || twinOf("NodePath") => Takes.Item,
            _ when parameter.Aliases.Contains("FullName") || parameter.Aliases.Contains("PSPath") || twinOf("FullName") || twinOf("PSPath") => Takes.File,
            _ => null,
        };
    }

    /// <summary>
    /// The path parameters that take no object of the module or the file system, and why; every other -Path or
    /// -LiteralPath must be swept (EveryObjectParameterIsSwept).
    /// </summary>
    private static readonly Dictionary<string, string> s_notObjects = new(StringComparer.Ordinal)
    {
        // The image to create: an existing file is refused (DeviceImageExists), so no object a command outputs fits.
        ["New-BlockDevice -Path"] = "the path of a new image",

        // The capture file to write: an existing file is refused (CaptureFileExists) unless -Force replaces it.
        ["Export-NetworkCapture -Path"] = "the path of a new capture file",
        ["Start-NetworkCapture -Path"] = "the path of a new capture file",
    };

    /// <summary>
    /// Device parameters of the network commands, swept elsewhere: their objects are network devices, which only
    /// Start-VmnetInterface makes in a session, as root; tests/Pester/VirtualDevices.Network.Tests.ps1 binds them by
    /// object, by name, positionally and from the Device property of piped statistics and ports, as root.
    /// </summary>
    private static readonly Dictionary<string, string> s_sweptInPester = new(StringComparer.Ordinal)
    {
        ["Connect-NetworkDevice -Device"] = "network devices (TAP, root)",
        ["Disconnect-NetworkDevice -Device"] = "network devices that are switch ports (TAP, root)",
        ["Stop-VmnetInterface -Device"] = "virtual interfaces (TAP, root)",
    };

    /// <summary>One case: the command line to run after a source's set-up.</summary>
    private sealed record Case(string Id, Source Source, Target Target, string CommandLine);

    private static readonly Lazy<Dictionary<string, Case>> s_cases = new(BuildCases);

    private static Dictionary<string, Case> BuildCases()
    {
        var cases = new Dictionary<string, Case>(StringComparer.Ordinal);
        foreach (EngineCommand command in EngineCommands.All)
        {
            foreach (EngineParameter parameter in command.Parameters)
            {
                if (Classify(command, parameter) is not { } takes)
                {
                    continue;
                }

                if (takes == Takes.Store)
                {
                    AddStoreCases(cases, command, parameter);
                    continue;
                }

                Target? target = s_targets.SingleOrDefault(t => t.Command == command.Name && t.Parameter == parameter.Name);
                if (target is null)
                {
                    continue; // EveryObjectParameterIsSwept reports it.
                }

                string p = parameter.Name;
                string rest = target.Rest.Length == 0 ? "" : " " + target.Rest;
                foreach (Source source in s_sources.Where(s => target.Only?.Invoke(s) ?? true))
                {
                    bool same = source.Kind == takes;
                    bool byProperty = parameter.FromPropertyName && PropertySources(takes).Contains(source.Kind)
                        && source.Carries.Intersect(parameter.Names, StringComparer.OrdinalIgnoreCase).Any();
                    if (same && parameter.FromPipeline)
                    {
                        Add(cases, source, target, "pipeline", $"$obj | {command.Name}{rest}");
                    }
                    else if (byProperty)
                    {
                        Add(cases, source, target, "pipeline by property name", $"$obj | {command.Name}{rest}");
                    }

                    // An object given by name or position: a typed parameter takes it as it is; a path parameter takes
                    // the item's string form, which must be its path (as for a FileInfo given to -Path).
                    if (same)
                    {
                        Add(cases, source, target, "named", $"{command.Name} -{p} $obj{rest}");
                        if (parameter.IsFirstPositional)
                        {
                            Add(cases, source, target, "positional", $"{command.Name} $obj{rest}");
                        }
                    }

                    // The name (or path) as a string, as a user types it; one source of each kind is enough for that.
                    Takes named = takes == Takes.DeviceName ? Takes.Device : takes;
                    // A joined domain's name goes to Disconnect-XenLoopbackDomain -Name, its own parameter set (a domain
                    // cannot be made as a placeholder for an unknown name): tests/Pester/VirtualDevices.XenLoopback.Tests.ps1.
                    if (takes is Takes.File or Takes.Store or Takes.CaptureFile or Takes.JoinedDomain || s_sources.First(s => s.Kind == named && (target.Only?.Invoke(s) ?? true)) != source)
                    {
                        continue;
                    }

                    Add(cases, source, target, "name string, named", $"{command.Name} -{p} $name{rest}");
                    if (parameter.IsFirstPositional)
                    {
                        Add(cases, source, target, "name string, positional", $"{command.Name} $name{rest}");
                    }

                    if (parameter.FromPipeline)
                    {
                        Add(cases, source, target, "name string, pipeline", $"$name | {command.Name}{rest}");
                    }
                }
            }
        }

        return cases;
    }

    /// <summary>The kinds of object that carry a property a parameter of kind <paramref name="takes"/> binds by name.</summary>
    private static Takes[] PropertySources(Takes takes) => takes switch
    {
        Takes.Device => [Takes.DeviceRecord],
        Takes.DeviceName => [Takes.Device],
        Takes.Item => [Takes.Item, Takes.ItemRecord],
        Takes.File => [Takes.File],
        Takes.CaptureFile => [Takes.CaptureFile],
        _ => [],
    };

    /// <summary>Functions the set-up and checks use to read and write a store without the cmdlets under test.</summary>
    private const string Helpers = """
        function Write-Node($client, $path, $value) { $client.WriteAsync($path, [string]$value).AsTask().GetAwaiter().GetResult() }
        function Read-Node($client, $path) { $client.TryReadStringAsync($path).AsTask().GetAwaiter().GetResult() }
        """;

    private static void AddStoreCases(Dictionary<string, Case> cases, EngineCommand command, EngineParameter parameter)
    {
        if (command.Name == "Disconnect-Xenstore")
        {
            Target target = s_targets.Single(t => t.Command == command.Name);
            foreach (Source source in s_sources.Where(s => s.Kind == Takes.Store))
            {
                Add(cases, source, target, "pipeline", $"$obj | {command.Name} {target.Rest}");
                Add(cases, source, target, "named", $"{command.Name} -Store $obj {target.Rest}");
                Add(cases, source, target, "positional", $"{command.Name} $obj {target.Rest}");
            }

            return;
        }

        if (command.Name == "Invoke-XenstoreTransaction")
        {
            var target = new Target(command.Name, parameter.Name, "", "$out -eq 'hello' -and (Read-Node $obj /vd/tx) -eq 'done'");
            foreach (Source source in s_sources.Where(s => s.Kind == Takes.Store))
            {
                Add(cases, source, target, "named", $"{command.Name} -Store $obj {{ param($tx) $tx.Write('/vd/tx', 'done'); $tx.TryRead('/vd/node') }}");
            }

            return;
        }

        Target pathTarget = s_targets.Single(t => t.Command == command.Name && t.Parameter == "Path");
        var storeTarget = pathTarget with { Parameter = parameter.Name, };
        foreach (Source source in s_sources.Where(s => s.Kind == Takes.Store))
        {
            Add(cases, source, storeTarget, "named", $"{command.Name} -Path $name -Store $obj {pathTarget.Rest}");
        }
    }

    private static void Add(Dictionary<string, Case> cases, Source source, Target target, string how, string commandLine)
    {
        // A piped file binds by property name to -LiteralPath whichever of the pair it is listed for: run it once.
        if (cases.Values.Any(c => c.Source == source && c.CommandLine == commandLine))
        {
            return;
        }

        string id = $"{target.Command} -{target.Parameter} <- {source.Id} ({how})";
        cases.Add(id, new Case(id, source, target, commandLine));
    }

    /// <summary>
    /// The families of commands, by a part of the noun; each is a class of its own, so that xunit runs them in
    /// parallel (the xenstore commands are two: ~170 cases in one class ran alone for the last ~30 s of a run).
    /// </summary>
    private static readonly string[] s_families = ["BlockDevice", "DeviceStats", "Nbd", "XenstoreItem", "Xenstore", "Network", "Xen"];

    /// <summary>The family of a command: the first whose name its noun contains.</summary>
    private static string FamilyOf(string command) => s_families.First(f => command.Contains(f, StringComparison.Ordinal));

    /// <summary>The cases of one family of commands.</summary>
    /// <param name="family">One of <see cref="s_families"/>.</param>
    internal static TheoryData<SweepCase> Cases(string family) =>
        new(s_cases.Value.Where(c => FamilyOf(c.Value.Target.Command) == family).Select(c => c.Key).Order(StringComparer.Ordinal).Select(k => new SweepCase(k)));

    /// <summary>Runs one case: set-up, the command line, the check.</summary>
    /// <param name="id">The case.</param>
    internal static void Binds(SweepCase id)
    {
        Case c = s_cases.Value[id.Id];
        using EngineSession session = EngineSession.Open();

        // The set-up uses only named parameters with plain values, so that it does not depend on what is swept.
        // A witness device is read once: Reset-DeviceStats must leave it alone.
        session.RunClean(Helpers + c.Source.Setup + "; $null = New-BlockDevice -Size 1MB -Name witness; $null = Read-BlockDevice -Device (Get-BlockDevice -Name witness) -Count 1");
        ScriptResult run = session.Run("$out = " + c.CommandLine);
        Assert.True(run.Terminating is null && run.Errors.Count == 0, $"{c.CommandLine}{Environment.NewLine}{run.Describe()}");
        ScriptResult check = session.Run(c.Target.Check);
        Assert.True(
            check.Terminating is null && check.Errors.Count == 0 && check.Output.Count == 1 && check.Output[0].BaseObject is true,
            $"{c.CommandLine} bound, but did not act on {c.Source.Id} as expected: {c.Target.Check} is {string.Join(", ", check.Output)}{Environment.NewLine}{check.Describe()}{Environment.NewLine}$out: {string.Join(Environment.NewLine, session.Run("$out | Format-List * | Out-String -Width 160").Output)}");
    }

    [Fact]
    public void EveryCaseBelongsToAFamily()
    {
        // Every case is in a family, and every family has cases (a family no class runs would drop them).
        Assert.All(s_cases.Value.Values, c => Assert.Contains(s_families, f => c.Target.Command.Contains(f, StringComparison.Ordinal)));
        Assert.All(s_families, f => Assert.Contains(s_cases.Value.Values, c => FamilyOf(c.Target.Command) == f));
    }

    [Fact]
    public void EveryObjectParameterIsSwept()
    {
        var missing = new List<string>();
        foreach (EngineCommand command in EngineCommands.All)
        {
            foreach (EngineParameter parameter in command.Parameters)
            {
                Takes? takes = Classify(command, parameter);
                if (takes is null or Takes.Store)
                {
                    continue;
                }

                if (!s_targets.Any(t => t.Command == command.Name && t.Parameter == parameter.Name) && !s_sweptInPester.ContainsKey($"{command.Name} -{parameter.Name}"))
                {
                    missing.Add($"{command.Name} -{parameter.Name} ({takes}) has no target in the binding sweep");
                }
            }

            if (command.Parameters.Any(p => Classify(command, p) == Takes.Store) && command.Name != "Disconnect-Xenstore" && !s_storeCommands.Contains(command.Name))
            {
                missing.Add($"{command.Name} -Store is not swept");
            }
        }

        // Every path parameter is swept or listed as taking no object.
        foreach (EngineCommand command in EngineCommands.All)
        {
            foreach (EngineParameter parameter in command.Parameters.Where(p => p.Name is "Path" or "LiteralPath"))
            {
                if (Classify(command, parameter) is null && !s_notObjects.ContainsKey($"{command.Name} -{parameter.Name}"))
                {
                    missing.Add($"{command.Name} -{parameter.Name} is neither swept nor listed as taking no object");
                }
            }
        }

        // And every target is reached by some case (a parameter that lost its alias would otherwise drop out silently).
        foreach (Target target in s_targets)
        {
            if (!s_cases.Value.Values.Any(c => c.Target.Command == target.Command && c.Target.Parameter == target.Parameter))
            {
                missing.Add($"{target.Command} -{target.Parameter}: no case reaches this target");
            }
        }

        Assert.True(missing.Count == 0, string.Join(Environment.NewLine, missing));

        // Every kind of parameter gets cases from every source of its kind, and the sweep is not trivially small.
        Assert.True(s_cases.Value.Count > 150, $"only {s_cases.Value.Count} binding cases");
        foreach (Source source in s_sources)
        {
            Assert.Contains(s_cases.Value.Values, c => c.Source == source);
        }
    }
}
