using System.Management.Automation;
using VirtualDevices.PowerShell.Tests.Engine;

namespace VirtualDevices.PowerShell.Tests;

/// <summary>
/// Representative failures of every command, in the hosted engine: each gives one error record with a stable
/// FullyQualifiedErrorId (the module's id and the cmdlet class, as PowerShell composes it) and the right category;
/// where the failing input is one item of the input (a name, a path, a node: anything a pipeline could bring), the
/// error is non-terminating, so <c>-ErrorAction SilentlyContinue</c> silences it; and <c>-ErrorAction Stop</c> turns
/// it into an ActionPreferenceStopException that carries the same record.
/// </summary>
/// <remarks>
/// The cases for unknown names, paths and nodes are generated from the engine's metadata (every parameter that
/// takes a device, a server, an image path or a node path); the others are listed. Not covered: access denied on an
/// image (the tests run as root here, who is never denied).
/// </remarks>
public sealed class ErrorRecordSweepTests
{
    /// <summary>One failure: the set-up, the failing command line (ending with the command, so that -ErrorAction can be appended), and what it must give.</summary>
    /// <remarks><c>After</c>: a PowerShell condition that must hold after the failure (what it must have left alone); <c>Cleanup</c>: what the session cannot close itself.</remarks>
    private sealed record Failure(string Command, string What, string Setup, string CommandLine, string ErrorId, ErrorCategory Category, bool PerItem, string? MessageMustNotSay = null, string? After = null, string? Cleanup = null);

    private const string Block = """$d = New-BlockDevice -Size 1MB -Name d; [IO.File]::WriteAllBytes("$PWD/ro.img", [byte[]]::new(1MB)); $ro = Open-BlockDevice -Path "$PWD/ro.img" -ReadOnly -Name ro""";
    private const string Network = "$na, $nb = New-NetworkDevice -Name na -PeerName nb";
    private const string PlainFile = """Set-Content "$PWD/plain.txt" keep""";
    private const string KeptFile = "(Get-Content \"$PWD/plain.txt\") -eq 'keep'";

    // A unix socket bound but not listening: a connect is refused, as at the socket of a server that was killed.
    private const string DeadSocket = """$dead = [Net.Sockets.Socket]::new('Unix', 'Stream', 'Unspecified'); $dead.Bind([Net.Sockets.UnixDomainSocketEndPoint]::new("$PWD/dead.sock"))""";
    private const string CloseDeadSocket = "$dead.Dispose()";
    private const string Xenstore = """$null = Start-XenstoreServer -Name xs -SocketPath "$PWD/xs.sock"; Set-XenstoreItem /a b""";
    private const string XenLoopback = """$null = Start-XenLoopbackHypervisor -Name xl -SocketPath "$PWD/xl.sock"; $null = Join-XenLoopbackHypervisor -Hypervisor xl -DomainId 0 -Name dom0""";

    /// <summary>What the command line needs besides the parameter under test, per command.</summary>
    private static readonly Dictionary<string, string> s_rest = new()
    {
        ["Read-BlockDevice"] = " -Count 1",
        ["Write-BlockDevice"] = " -Sector 0 -Data ([byte[]]::new(512)) -Force",
        ["Start-NbdServer"] = " -SocketPath \"$PWD/s.sock\"",
        ["Close-BlockDevice"] = " -Confirm:$false",
        ["Disconnect-NbdDevice"] = " -Confirm:$false",
        ["Reset-DeviceStats"] = " -Confirm:$false",
        ["Stop-NbdServer"] = " -Confirm:$false",
        ["Stop-XenstoreServer"] = " -Confirm:$false",
        ["Remove-XenstoreItem"] = " -Confirm:$false",
        ["Set-XenstorePermission"] = " -Permission n0",
        ["Send-NetworkFrame"] = " -Data ([byte[]]::new(60))",
        ["Start-NetworkCapture"] = " -Path \"$PWD/c.pcapng\"",
        ["Stop-VmnetInterface"] = " -Force",
        ["Disconnect-NetworkDevice"] = " -Confirm:$false",
        ["Stop-XenLoopbackHypervisor"] = " -Confirm:$false",
        ["Disconnect-XenLoopbackDomain"] = " -Confirm:$false",
    };

    private static readonly Failure[] s_listed =
    [
        new("Read-BlockDevice", "sector past the end", Block, "Read-BlockDevice -Device $d -Sector 99999 -Count 1", "BlockOutOfRange", ErrorCategory.InvalidArgument, true),
        new("Write-BlockDevice", "sector past the end", Block, "Write-BlockDevice -Device $d -Sector 99999 -Data ([byte[]]::new(512)) -Force", "BlockOutOfRange", ErrorCategory.InvalidArgument, true),
        new("Get-BlockDeviceAllocation", "sector past the end", Block, "Get-BlockDeviceAllocation -Device $d -Sector 99999", "BlockOutOfRange", ErrorCategory.InvalidArgument, true),
        new("Write-BlockDevice", "read-only device written", Block, "Write-BlockDevice -Device $ro -Sector 0 -Data ([byte[]]::new(512)) -Force", "BlockReadOnly", ErrorCategory.PermissionDenied, true),
        new("Write-BlockDevice", "read-only device written from the pipeline", Block, "Read-BlockDevice -Device $d -Count 1 | Write-BlockDevice -Device $ro -Force", "BlockReadOnly", ErrorCategory.PermissionDenied, true),
        new("New-BlockDevice", "image that exists", Block, "New-BlockDevice -Path \"$PWD/ro.img\" -Size 1MB", "DeviceImageExists", ErrorCategory.ResourceExists, false),
        new("New-BlockDevice", "name in use", Block, "New-BlockDevice -Size 1MB -Name d", "DeviceNameInUse", ErrorCategory.ResourceExists, false),
        new("Get-BlockDevice", "unknown device name to -Name", Block, "Get-BlockDevice -Name nosuch", "DeviceNotFound", ErrorCategory.ObjectNotFound, true),
        new("Get-DeviceStats", "unknown device name to -Name", Block, "Get-DeviceStats -Name nosuch", "DeviceNotFound", ErrorCategory.ObjectNotFound, true),
        new("Reset-DeviceStats", "unknown device name to -Name", Block, "Reset-DeviceStats -Name nosuch -Confirm:$false", "DeviceNotFound", ErrorCategory.ObjectNotFound, true),
        new("Disconnect-NbdDevice", "device that is not an NBD device", Block, "Disconnect-NbdDevice -Device $d -Confirm:$false", "InvalidArgument", ErrorCategory.InvalidArgument, true),
        new("Get-NbdServer", "unknown server name to -Name", "", "Get-NbdServer -Name nosuch", "ServiceNotFound", ErrorCategory.ObjectNotFound, true),
        new("Get-NetworkSwitch", "unknown switch name to -Name", "", "Get-NetworkSwitch -Name nosuch", "NetworkSwitchNotFound", ErrorCategory.ObjectNotFound, true),
        new("Start-VmnetInterface", "interface name the kernel refuses", "", "Start-VmnetInterface -Name 'a/b'", "NetworkInterfaceNameInvalid", ErrorCategory.InvalidArgument, false),
        new("Stop-VmnetInterface", "device that is not a virtual interface", Block, "Stop-VmnetInterface -Device $d -Force", "InvalidArgument", ErrorCategory.InvalidArgument, true),
        new("Connect-NetworkDevice", "device that is not a network device", Block, "Connect-NetworkDevice -Device $d", "InvalidArgument", ErrorCategory.InvalidArgument, true),
        new("Disconnect-NetworkDevice", "device that is not a switch port", Block, "Disconnect-NetworkDevice -Device $d -Confirm:$false", "NetworkSwitchNotFound", ErrorCategory.ObjectNotFound, true),
        new("Get-XenstoreServer", "unknown server name to -Name", "", "Get-XenstoreServer -Name nosuch", "ServiceNotFound", ErrorCategory.ObjectNotFound, true),
        new("Connect-NbdDevice", "missing socket", "", "Connect-NbdDevice -SocketPath \"$PWD/nosuch.sock\"", "SocketNotFound", ErrorCategory.ObjectNotFound, false, "Cannot assign requested address"),
        new("Get-NbdExport", "missing socket", "", "Get-NbdExport -Uri \"nbd+unix:///?socket=$PWD/nosuch.sock\"", "SocketNotFound", ErrorCategory.ObjectNotFound, false, "Cannot assign requested address"),
        new("Get-BlockDeviceAllocation", "missing socket", "", "Get-BlockDeviceAllocation -Uri \"nbd+unix:///?socket=$PWD/nosuch.sock\"", "SocketNotFound", ErrorCategory.ObjectNotFound, false, "Cannot assign requested address"),
        new("Connect-Xenstore", "missing socket", "", "Connect-Xenstore -SocketPath \"$PWD/nosuch.sock\"", "SocketNotFound", ErrorCategory.ObjectNotFound, false, "Cannot assign requested address"),
        new("Start-NbdServer", "socket in a missing directory", Block, "Start-NbdServer -Device $d -SocketPath \"$PWD/nodir/s.sock\"", "SocketDirectoryNotFound", ErrorCategory.ObjectNotFound, false, "Cannot assign requested address"),
        new("Start-XenstoreServer", "socket in a missing directory", "", "Start-XenstoreServer -SocketPath \"$PWD/nodir/s.sock\"", "SocketDirectoryNotFound", ErrorCategory.ObjectNotFound, false, "Cannot assign requested address"),
        new("Start-NbdServer", "socket path that is a regular file", Block + "; " + PlainFile, "Start-NbdServer -Device $d -SocketPath \"$PWD/plain.txt\"", "SocketPathNotSocket", ErrorCategory.ResourceExists, false, After: KeptFile),
        new("Start-XenstoreServer", "socket path that is a regular file", PlainFile, "Start-XenstoreServer -SocketPath \"$PWD/plain.txt\" -NoConnect", "SocketPathNotSocket", ErrorCategory.ResourceExists, false, After: KeptFile),
        new("Start-NbdServer", "socket another server listens on", Block, "$null = Start-NbdServer -Device $d -SocketPath \"$PWD/a.sock\" -Name a; Start-NbdServer -Device $d -SocketPath \"$PWD/a.sock\" -Name b", "NbdServerSocketInUse", ErrorCategory.ResourceExists, false, After: "(Get-NbdServer -Name a).IsRunning"),
        new("Start-XenstoreServer", "socket another server listens on", "", "$null = Start-XenstoreServer -SocketPath \"$PWD/x.sock\" -Name x -NoConnect; Start-XenstoreServer -SocketPath \"$PWD/x.sock\" -Name y -NoConnect", "XenstoreSocketInUse", ErrorCategory.ResourceExists, false, After: "(Get-XenstoreServer -Name x).IsRunning"),
        new("Connect-NbdDevice", "socket path that is a regular file", PlainFile, "Connect-NbdDevice -SocketPath \"$PWD/plain.txt\"", "ConnectionRefused", ErrorCategory.ConnectionError, false, After: KeptFile),
        new("Connect-Xenstore", "socket path that is a regular file", PlainFile, "Connect-Xenstore -SocketPath \"$PWD/plain.txt\"", "ConnectionRefused", ErrorCategory.ConnectionError, false, After: KeptFile),
        new("Connect-NbdDevice", "socket nobody listens on", DeadSocket, "Connect-NbdDevice -SocketPath \"$PWD/dead.sock\"", "ConnectionRefused", ErrorCategory.ConnectionError, false, Cleanup: CloseDeadSocket),
        new("Connect-Xenstore", "socket nobody listens on", DeadSocket, "Connect-Xenstore -SocketPath \"$PWD/dead.sock\"", "ConnectionRefused", ErrorCategory.ConnectionError, false, Cleanup: CloseDeadSocket),
        new("Get-NbdExport", "socket nobody listens on", DeadSocket, "Get-NbdExport -Uri \"nbd+unix:///?socket=$PWD/dead.sock\"", "ConnectionRefused", ErrorCategory.ConnectionError, false, Cleanup: CloseDeadSocket),
        new("Start-NbdServer", "server name in use", Block, "$null = Start-NbdServer -Device $d -SocketPath \"$PWD/a.sock\" -Name srv; Start-NbdServer -Device $d -SocketPath \"$PWD/b.sock\" -Name srv", "ServiceNameInUse", ErrorCategory.ResourceExists, false),
        new("New-XenstoreItem", "node that exists", Xenstore, "New-XenstoreItem -Path /a -Value x", "XenstoreExists", ErrorCategory.ResourceExists, true),
        new("Set-XenstoreItem", "invalid node path", Xenstore, "Set-XenstoreItem -Path '/bad path' -Value x", "XenstoreInvalidArgument", ErrorCategory.InvalidArgument, true),
        new("Watch-XenstorePath", "condition that never holds", Xenstore, "Watch-XenstorePath -Path /a -UntilValue never -Timeout 0.2", "XenstoreWaitTimeout", ErrorCategory.OperationTimeout, true),
        new("Get-XenstoreItem", "no store", "", "Get-XenstoreItem -Path /a", "XenstoreNotConnected", ErrorCategory.ConnectionError, false),
        new("New-NetworkDevice", "name in use", Network, "New-NetworkDevice -Name na", "DeviceNameInUse", ErrorCategory.ResourceExists, false),
        new("New-NetworkFrame", "IPv6 address in an ARP frame", "", "New-NetworkFrame -Arp Request -Source 02:00:00:00:00:01 -SourceAddress ::1 -DestinationAddress 10.0.0.2", "InvalidArgument", ErrorCategory.InvalidArgument, false),
        new("Send-NetworkFrame", "frame longer than the MTU allows", Network, "Send-NetworkFrame -Device $na -Data ([byte[]]::new(1519))", "FrameSizeInvalid", ErrorCategory.InvalidArgument, true),
        new("Receive-NetworkFrame", "block device", Block, "Receive-NetworkFrame -Device $d -Timeout 1", "DeviceNotNetwork", ErrorCategory.InvalidArgument, true),
        new("Receive-NetworkFrame", "listener already taken", Network + "; $null = $na.OpenListener()", "Receive-NetworkFrame -Device $na -Timeout 1", "DeviceListenerActive", ErrorCategory.InvalidOperation, true),
        new("Export-NetworkCapture", "file that exists", Network + "; " + PlainFile, "New-NetworkFrame -EtherType 0x88B5 -Source 02:00:00:00:00:01 | Export-NetworkCapture -Path \"$PWD/plain.txt\"", "CaptureFileExists", ErrorCategory.ResourceExists, false, After: KeptFile),
        new("Start-NetworkCapture", "file that exists", Network + "; " + PlainFile, "Start-NetworkCapture -Device $na -Path \"$PWD/plain.txt\"", "CaptureFileExists", ErrorCategory.ResourceExists, false, After: KeptFile),
        new("Import-NetworkCapture", "missing file", "", "Import-NetworkCapture -Path \"$PWD/nosuch.pcapng\"", "FileNotFound", ErrorCategory.ObjectNotFound, true),
        new("Import-NetworkCapture", "file that is not a capture", PlainFile, "Import-NetworkCapture -Path \"$PWD/plain.txt\"", "CaptureInvalidFormat", ErrorCategory.InvalidArgument, true),
        new("Import-NetworkCapture", "file cut short", Network + "; New-NetworkFrame -EtherType 0x88B5 -Source 02:00:00:00:00:01 | Export-NetworkCapture \"$PWD/c.pcapng\"; $b = [IO.File]::ReadAllBytes(\"$PWD/c.pcapng\"); [IO.File]::WriteAllBytes(\"$PWD/c.pcapng\", $b[0..($b.Length - 5)])", "Import-NetworkCapture -Path \"$PWD/c.pcapng\"", "CaptureTruncated", ErrorCategory.ReadError, true),
        new("Get-NetworkCapture", "unknown capture name to -Name", "", "Get-NetworkCapture -Name nosuch", "ServiceNotFound", ErrorCategory.ObjectNotFound, true),
        new("Stop-NetworkCapture", "unknown capture name to -Name", "", "Stop-NetworkCapture -Name nosuch", "ServiceNotFound", ErrorCategory.ObjectNotFound, true),
        new("Get-XenLoopbackHypervisor", "unknown hypervisor name to -Name", "", "Get-XenLoopbackHypervisor -Name nosuch", "ServiceNotFound", ErrorCategory.ObjectNotFound, true),
        new("Get-XenLoopbackDomain", "unknown domain name to -Name", "", "Get-XenLoopbackDomain -Name nosuch", "ServiceNotFound", ErrorCategory.ObjectNotFound, true),
        new("Disconnect-XenLoopbackDomain", "unknown domain name to -Name", XenLoopback, "Disconnect-XenLoopbackDomain -Name nosuch -Confirm:$false", "XenLoopbackDomainNotJoined", ErrorCategory.ObjectNotFound, true, After: "@(Get-XenLoopbackDomain).Count -eq 1"),
        new("Start-XenLoopbackHypervisor", "socket path that is a regular file", PlainFile, "Start-XenLoopbackHypervisor -SocketPath \"$PWD/plain.txt\"", "SocketPathNotSocket", ErrorCategory.ResourceExists, false, After: KeptFile),
        new("Start-XenLoopbackHypervisor", "socket another hypervisor listens on", XenLoopback, "Start-XenLoopbackHypervisor -SocketPath \"$PWD/xl.sock\" -Name other", "XenLoopbackSocketInUse", ErrorCategory.ResourceExists, false, After: "@(Get-XenDomain -Hypervisor xl).Count -eq 1 -and (Test-Path \"$PWD/xl.sock\")"),
        new("Start-XenLoopbackHypervisor", "socket a xenstore server listens on", Xenstore, "Start-XenLoopbackHypervisor -SocketPath \"$PWD/xs.sock\"", "XenLoopbackSocketInUse", ErrorCategory.ResourceExists, false, After: "(Get-XenstoreServer -Name xs).IsRunning -and (Test-Path \"$PWD/xs.sock\")"),
        new("Start-XenLoopbackHypervisor", "name in use", XenLoopback, "Start-XenLoopbackHypervisor -SocketPath \"$PWD/other.sock\" -Name xl", "ServiceNameInUse", ErrorCategory.ResourceExists, false, After: "-not (Test-Path \"$PWD/other.sock\")"),
        new("Join-XenLoopbackHypervisor", "socket nobody answers on", DeadSocket, "Join-XenLoopbackHypervisor -SocketPath \"$PWD/dead.sock\"", "XenLoopbackConnectFailed", ErrorCategory.ConnectionError, false, Cleanup: CloseDeadSocket),
        new("Join-XenLoopbackHypervisor", "domain id in use", XenLoopback, "Join-XenLoopbackHypervisor -SocketPath \"$PWD/xl.sock\" -DomainId 0", "XenLoopbackDomainIdInUse", ErrorCategory.ResourceExists, false, After: "@(Get-XenLoopbackDomain).Count -eq 1"),
    ];

    /// <summary>Commands with no failure a user can provoke here, and why.</summary>
    private static readonly Dictionary<string, string> s_noFailure = new()
    {
        ["Disconnect-Xenstore"] = "disconnecting is idempotent; without a store it does nothing",
        ["Invoke-XenstoreTransaction"] = "its failures are those of the script block, covered by the Pester suite",
        ["Get-XenPlatform"] = "it takes no input and only looks for the Xen device nodes and the session's hypervisors",
    };

    private static readonly Lazy<Dictionary<string, Failure>> s_failures = new(BuildFailures);

    private static Dictionary<string, Failure> BuildFailures()
    {
        var failures = new List<Failure>(s_listed);
        foreach (EngineCommand command in EngineCommands.All)
        {
            string rest = s_rest.GetValueOrDefault(command.Name, "");
            foreach (EngineParameter parameter in command.Parameters)
            {
                // Per item when a pipeline can bring it, or an array can hold several.
                bool perItem = parameter.Type.IsArray || parameter.FromPipeline || parameter.FromPropertyName;
                switch (parameter.ElementType.FullName)
                {
                    case "VirtualDevices.Block.IBlockDevice" or "VirtualDevices.Devices.IDevice":
                        failures.Add(new(command.Name, $"unknown device name to -{parameter.Name}", Block, $"{command.Name} -{parameter.Name} nosuch{rest}", "DeviceNotFound", ErrorCategory.ObjectNotFound, perItem));
                        continue;
                    // A name to -Server is per item whatever the parameter's shape: the transformation binds a placeholder
                    // and the command writes a non-terminating error that names the kind of server (Get-NbdServer and
                    // Get-XenstoreServer -Name, which filter by name, keep ServiceNotFound: listed above).
                    case "VirtualDevices.Nbd.Server.NbdServer":
                        failures.Add(new(command.Name, $"unknown server name to -{parameter.Name}", "", $"{command.Name} -{parameter.Name} nosuch{rest}", "NbdServerNotFound", ErrorCategory.ObjectNotFound, true));
                        continue;
                    case "VirtualDevices.Xen.Xenstore.Server.XenstoreServer":
                        failures.Add(new(command.Name, $"unknown server name to -{parameter.Name}", "", $"{command.Name} -{parameter.Name} nosuch{rest}", "XenstoreServerNotFound", ErrorCategory.ObjectNotFound, true));
                        continue;
                    case "VirtualDevices.Xen.Loopback.LoopbackHypervisor":
                        failures.Add(new(command.Name, $"unknown hypervisor name to -{parameter.Name}", "", $"{command.Name} -{parameter.Name} nosuch{rest}", "XenLoopbackHypervisorNotFound", ErrorCategory.ObjectNotFound, true));
                        continue;
                }

                // What the binding sweep finds takes a file or a node (by alias, or as the -Path/-LiteralPath twin of one that does).
                BindingSweepTests.Takes? takes = BindingSweepTests.Classify(command, parameter);
                if (takes == BindingSweepTests.Takes.File)
                {
                    failures.Add(new(command.Name, $"unknown image path to -{parameter.Name}", "", $"{command.Name} -{parameter.Name} ./nosuch.img{rest}", "DeviceNotFound", ErrorCategory.ObjectNotFound, perItem));
                }
                else if (takes == BindingSweepTests.Takes.Item && command.Name is not ("New-XenstoreItem" or "Set-XenstoreItem" or "Watch-XenstorePath"))
                {
                    failures.Add(new(command.Name, $"missing node to -{parameter.Name}", Xenstore, $"{command.Name} -{parameter.Name} /nosuch{rest}", "XenstoreNotFound", ErrorCategory.ObjectNotFound, perItem));
                }
            }
        }

        return failures.ToDictionary(f => $"{f.Command}: {f.What}", StringComparer.Ordinal);
    }

    public static TheoryData<SweepCase, string> Cases()
    {
        var data = new TheoryData<SweepCase, string>();
        foreach (string id in s_failures.Value.Keys.Order(StringComparer.Ordinal))
        {
            data.Add(new SweepCase(id), "default");
            data.Add(new SweepCase(id), "Stop");
            if (s_failures.Value[id].PerItem)
            {
                data.Add(new SweepCase(id), "SilentlyContinue");
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void FailsWithAStableRecord(SweepCase id, string errorAction)
    {
        Failure failure = s_failures.Value[id.Id];
        EngineCommand command = EngineCommands.Get(failure.Command);
        string expectedId = $"{failure.ErrorId},{command.TypeFullName}";
        using EngineSession session = EngineSession.Open();
        try
        {
            if (failure.Setup.Length > 0)
            {
                session.RunClean(failure.Setup);
            }

            Check(session, failure, expectedId, errorAction);
            if (failure.After is { } after)
            {
                Assert.True(session.RunClean(after).SingleOrDefault()?.BaseObject is true, $"{failure.CommandLine}: afterwards, {after} does not hold");
            }
        }
        finally
        {
            if (failure.Cleanup is { } cleanup)
            {
                session.Run(cleanup);
            }
        }
    }

    private static void Check(EngineSession session, Failure failure, string expectedId, string errorAction)
    {
        switch (errorAction)
        {
            case "default":
            {
                ScriptResult result = session.Run(failure.CommandLine);
                ErrorRecord error = Assert.Single(result.AllErrors);
                Assert.True(expectedId == error.FullyQualifiedErrorId && failure.Category == error.CategoryInfo.Category, $"{failure.CommandLine}: expected {expectedId} [{failure.Category}], got{Environment.NewLine}{result.Describe()}");
                Assert.True(!failure.PerItem || result.Terminating is null, $"{failure.CommandLine}: the input is per item, but the error is terminating{Environment.NewLine}{result.Describe()}");
                if (failure.MessageMustNotSay is { } wrong)
                {
                    Assert.DoesNotContain(wrong, error.Exception.Message, StringComparison.Ordinal);
                }

                break;
            }

            case "SilentlyContinue":
            {
                ScriptResult result = session.Run(failure.CommandLine + " -ErrorAction SilentlyContinue");
                Assert.True(result.Terminating is null && result.Errors.Count == 0, $"{failure.CommandLine} -ErrorAction SilentlyContinue still reports:{Environment.NewLine}{result.Describe()}");

                // Silenced, not lost: the record is still in $Error.
                Assert.Equal(expectedId, session.RunClean("$Error[0].FullyQualifiedErrorId").Single().ToString());
                break;
            }

            case "Stop":
            {
                ScriptResult result = session.RunUncaught(failure.CommandLine + " -ErrorAction Stop");
                var stop = result.TerminatingException as ActionPreferenceStopException;
                Assert.True(
                    stop is not null && stop.ErrorRecord.FullyQualifiedErrorId == expectedId && stop.ErrorRecord.CategoryInfo.Category == failure.Category,
                    $"{failure.CommandLine} -ErrorAction Stop: expected an ActionPreferenceStopException carrying {expectedId}, got {result.TerminatingException?.GetType().Name}{Environment.NewLine}{result.Describe()}");
                Assert.Empty(result.Errors);
                break;
            }

            default:
                throw new ArgumentOutOfRangeException(nameof(errorAction), errorAction, null);
        }
    }

    [Fact]
    public void EveryCommandHasAFailureCase()
    {
        var covered = s_failures.Value.Values.Select(f => f.Command).ToHashSet();
        var missing = EngineCommands.All.Select(c => c.Name).Where(n => !covered.Contains(n) && !s_noFailure.ContainsKey(n)).ToList();
        Assert.True(missing.Count == 0, "no failure case for: " + string.Join(", ", missing));
    }
}
