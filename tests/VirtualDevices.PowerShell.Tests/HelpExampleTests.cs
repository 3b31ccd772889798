using VirtualDevices.HelpGenerator;
using VirtualDevices.PowerShell.Tests.Engine;

namespace VirtualDevices.PowerShell.Tests;

/// <summary>
/// Every example of the EXAMPLES sections of docs/VirtualDevices/*.md runs as written in the hosted engine (the
/// <c>PS&gt;</c> and <c>&gt;&gt;</c> lines; the rest is shown output), in a fresh session whose location is a temp
/// directory, after a prelude that makes what the example assumes (a device named disk, an image ./disk.img, an
/// embedded xenstore with the nodes it reads). It must end without any error record, within the time bound.
/// Examples that need what this machine cannot give are listed below with the reason; nothing else is left out.
/// </summary>
public sealed class HelpExampleTests
{
    private const string Image = """[IO.File]::WriteAllBytes("$PWD/disk.img", [byte[]]::new(1MB)); """;
    private const string NbdPair = """$null = New-BlockDevice -Size 1MB -Name exported; $null = Start-NbdServer -Device exported -SocketPath "$PWD/p.sock" -Name srv; """;
    private const string Store = "$null = Start-XenstoreServer -Name test -SocketPath \"$PWD/test.sock\"; ";
    private const string Hypervisor = "$null = Start-XenLoopbackHypervisor -Name xl -SocketPath \"$PWD/xl.sock\"; $dom0 = Join-XenLoopbackHypervisor -Hypervisor xl -DomainId 0; ";
    private const string TwoDomains = Hypervisor + "$dom1 = Join-XenLoopbackHypervisor -SocketPath \"$PWD/xl.sock\" -Name guest; ";

    /// <summary>Examples that cannot run here, and why.</summary>
    private static readonly Dictionary<string, string> s_skipped = new()
    {
        ["Connect-NbdDevice 1"] = "needs nbdkit (an external peer)",
        ["Connect-NbdDevice 2"] = "needs qemu-nbd serving ./vm.qcow2 on the default TCP port (external peer, fixed port)",
        ["Connect-NbdDevice 3"] = "needs a network host (nbd.example.com) and its TLS certificates",
        ["Connect-NbdDevice 4"] = "needs nbdkit at /tmp/nbdkit.sock (external peer)",
        ["Connect-Xenstore 1"] = "needs real Xen (the host's xenstored)",
        ["Connect-Xenstore 3"] = "needs a xenstore server in another process at /run/user/1000",
        ["Connect-Xenstore 4"] = "needs real Xen (a guest's /dev/xen/xenbus)",
        ["Disconnect-NbdDevice 1"] = "needs nbdkit at /tmp/nbdkit.sock (external peer)",
        ["Get-BlockDeviceAllocation 2"] = "needs nbdkit at /tmp/nbdkit.sock (external peer)",
        ["Get-BlockDeviceInfo 2"] = "reads /srv/images, a folder of the host",
        ["Get-DeviceStats 2"] = "samples every second for 10 s by design",
        ["Get-DeviceStats 4"] = "samples every 10 s until stopped",
        ["Get-NbdExport 1"] = "a fixed socket path under /tmp (/tmp/nbd.sock), not safe beside parallel runs",
        ["Get-NbdExport 2"] = "needs a network host (storage01)",
        ["Get-NbdExport 3"] = "needs a server on a fixed TCP port (10810)",
        ["Get-XenstoreItem 1"] = "needs real Xen (a guest's vif of domain 3)",
        ["Get-XenstoreServer 2"] = "sets $env:XENSTORED_PATH, which is process-wide: the test host runs other tests at the same time",
        ["Open-BlockDevice 2"] = "needs a USB stick at /dev/sdb (a root-only device of the host)",
        ["Open-BlockDevice 4"] = "reads /srv/images, a folder of the host",
        ["Read-BlockDevice 3"] = "needs a partition at /dev/sdb1 (a root-only device of the host)",
        ["Read-BlockDevice 6"] = "needs nbdkit at /tmp/nbdkit.sock and a server on a fixed TCP port (external peers)",
        ["Start-NbdServer 1"] = "needs qemu-img (an external peer)",
        ["Start-NbdServer 2"] = "needs nbdcopy (an external peer) and a fixed socket path under /tmp",
        ["Start-NbdServer 3"] = "needs nbdinfo (an external peer) and a fixed TCP port (10810)",
        ["Start-NbdServer 4"] = "serves the network (0.0.0.0) with TLS certificates from /etc/pki/nbd",
        ["Start-XenstoreServer 2"] = "needs xenstore-write and xenstore-ls (external peers) and sets a process-wide environment variable",
        ["Start-XenstoreServer 3"] = "a Pester fixture (BeforeAll/AfterAll): it runs in Pester, not on its own",
        ["Stop-NbdServer 3"] = "needs nbdinfo (an external peer)",
        ["Watch-XenstorePath 1"] = "needs real Xen (waits for a real backend for up to 30 s)",
        ["Watch-XenstorePath 2"] = "needs real Xen (follows a guest's devices for 60 s)",
        ["Watch-XenstorePath 3"] = "needs real Xen (waits for a real guest's device to be removed)",
        ["Watch-XenstorePath 4"] = "needs a pwsh installation: the ThreadJob module of $PSHOME and VirtualDevices installed in $env:PSModulePath (the SDK host has neither)",
        ["Watch-XenstorePath 5"] = "needs real Xen (waits for a domain to die)",
        ["Write-BlockDevice 3"] = "needs a USB stick at /dev/sdb (a root-only device of the host)",
        ["Write-BlockDevice 6"] = "needs nbdkit at /tmp/nbdkit.sock and a server on a fixed TCP port (external peers)",
        ["Start-VmnetInterface 2"] = "makes a network namespace (lab1) that it leaves behind",
        ["Start-VmnetInterface 3"] = "changes the host's firewall (an nftables NAT table) and IPv4 forwarding (the Pester and xunit tests do it inside a namespace)",
        ["Start-VmnetInterface 4"] = "needs a bridge br0 on the host",
        ["Connect-NetworkDevice 2"] = "makes network namespaces (left, right) that it leaves behind, and runs ping in them",
    };

    /// <summary>Examples that make TAP interfaces (without addresses, removed when their session ends): they need root.</summary>
    private static readonly string[] s_needRoot =
    [
        "Start-VmnetInterface 1", "Stop-VmnetInterface 1", "Stop-VmnetInterface 2", "Connect-NetworkDevice 1",
        "Disconnect-NetworkDevice 1", "Disconnect-NetworkDevice 2", "Get-NetworkSwitch 1", "Get-NetworkSwitch 2",
    ];

    static HelpExampleTests()
    {
        bool root = OperatingSystem.IsLinux() && File.ReadLines("/proc/self/status").Any(l => l.StartsWith("Uid:", StringComparison.Ordinal) && l.Split('\t', StringSplitOptions.RemoveEmptyEntries)[2] == "0");
        if (!root)
        {
            foreach (string key in s_needRoot)
            {
                s_skipped[key] = "makes a TAP interface, which needs root (CAP_NET_ADMIN) and Linux";
            }
        }
    }

    /// <summary>What each page's examples assume, made before each of them (an example's own key wins over its page's).</summary>
    private static readonly Dictionary<string, string> s_preludes = new()
    {
        ["Close-BlockDevice"] = "$null = New-BlockDevice -Size 1MB -Name disk; $null = New-BlockDevice -Size 1MB -Name tmp0",
        ["Disconnect-XenLoopbackDomain"] = TwoDomains,
        ["Get-XenDomain"] = TwoDomains,
        ["Get-XenEventChannel"] = TwoDomains,
        ["Get-XenGrant"] = TwoDomains,
        ["Get-XenLoopbackDomain"] = TwoDomains,
        ["Get-XenLoopbackHypervisor"] = Hypervisor,
        ["Get-XenPlatform"] = "",
        ["Join-XenLoopbackHypervisor 1"] = "",
        ["Join-XenLoopbackHypervisor 2"] = Hypervisor,
        ["Join-XenLoopbackHypervisor 3"] = TwoDomains,
        ["Start-XenLoopbackHypervisor"] = "",
        ["Stop-XenLoopbackHypervisor"] = Hypervisor,
        ["Connect-Xenstore"] = "",
        ["Disconnect-NbdDevice"] = NbdPair + "$null = Connect-NbdDevice -SocketPath \"$PWD/p.sock\" -Name nbd0; $null = Connect-NbdDevice -SocketPath \"$PWD/p.sock\" -Name nbd1",
        ["Disconnect-Xenstore"] = Store + "$null = New-XenstoreItem /local/domain/5; Set-XenstorePermission /local/domain/5 -Permission n5; Set-XenstoreItem /local/domain/5/name guest5",
        ["Get-BlockDevice"] = Image + "$null = Open-BlockDevice -Path ./disk.img -Name disk; $null = New-BlockDevice -Size 1MB -Name ram",
        ["Get-BlockDeviceAllocation 3"] = "[IO.File]::WriteAllBytes(\"$PWD/vm.img\", [byte[]]::new(1MB))",
        ["Get-BlockDeviceAllocation 4"] = "$null = New-BlockDevice -Size 1MB -Name src; $null = New-BlockDevice -Size 1MB -Name dst",
        ["Get-BlockDeviceInfo"] = Image + "$null = New-BlockDevice -Size 1MB -SectorSize 4096 -Name ram",
        ["Get-DeviceStats"] = "$null = New-BlockDevice -Size 1MB -Name disk",
        ["Get-NbdServer"] = "$null = New-BlockDevice -Size 1MB -Name src; $null = Start-NbdServer -Device src -SocketPath \"$PWD/n.sock\" -Name nbd-a",
        ["Get-XenstoreItem"] = Store + "Set-XenstoreItem /local/domain/0/name Domain-0",
        ["Get-XenstorePermission"] = Store + "Set-XenstoreItem /local/domain/0/backend/vif/5/0/state 1; Set-XenstoreItem /local/domain/5/data/x 1",
        ["Get-XenstoreServer"] = Store + "$null = Start-XenstoreServer -Name tmp1 -SocketPath \"$PWD/tmp1.sock\" -NoConnect",
        ["Invoke-XenstoreTransaction"] = Store + "Set-XenstoreItem /vm/web01/name web01; Set-XenstoreItem /local/domain/0/backend/vif/3/0/state 4",
        ["New-BlockDevice"] = "[IO.File]::WriteAllBytes(\"$PWD/boot.img\", [byte[]]::new(1MB))",
        ["New-XenstoreItem"] = Store,
        ["Open-BlockDevice"] = Image + "$null = New-Item -ItemType Directory ./images; [IO.File]::WriteAllBytes(\"$PWD/images/a.img\", [byte[]]::new(1MB))",
        ["Read-BlockDevice"] = Image + "[IO.File]::WriteAllBytes(\"$PWD/usb.img\", [byte[]]::new(1MB)); $null = Open-BlockDevice -Path ./usb.img -Name usb",
        ["Remove-XenstoreItem"] = Store + "Set-XenstoreItem /local/domain/0/backend/vif/3/0/state 1; Set-XenstoreItem /vm/test/name web01",
        ["Reset-DeviceStats"] = Image + "$null = Open-BlockDevice -Path ./disk.img -Name disk; $null = New-BlockDevice -Size 1MB -Name ram",
        ["Set-XenstoreItem"] = Store + "Set-XenstoreItem /vm/test/features/sg 1; Set-Content ./nodes.csv 'Path,Value', '/vm/test/memory,1024', '/vm/test/vcpus,2'",
        ["Set-XenstorePermission"] = Store + "Set-XenstoreItem /local/domain/0/backend/vif/5/0/state 1",
        ["Start-XenstoreServer"] = "",
        ["Stop-NbdServer"] = "$null = New-BlockDevice -Size 1MB -Name src; $null = Start-NbdServer -Device src -SocketPath \"$PWD/n.sock\"",
        ["Stop-XenstoreServer"] = Store,
        ["Watch-XenstorePath"] = "",
        ["Write-BlockDevice"] = Image + "$null = New-BlockDevice -Size 2MB -Name ram",
        ["Write-BlockDevice 5"] = Image,
    };

    /// <summary>Examples that show an error on purpose: the text of the error they show.</summary>
    private static readonly Dictionary<string, string> s_showsError = new()
    {
        ["Close-BlockDevice 4"] = "disconnected",
        ["Connect-Xenstore 2"] = "permission denied",
    };

    /// <summary>The examples of every page, parsed once for all the cases.</summary>
    private static readonly Lazy<(string Key, string Title, string Code)[]> s_examples = new(() => ParseExamples().ToArray());

    private static IEnumerable<(string Key, string Title, string Code)> Examples() => s_examples.Value;

    private static IEnumerable<(string Key, string Title, string Code)> ParseExamples()
    {
        foreach (string file in Directory.GetFiles(ModuleLayout.DocsDirectory, "*.md").Order(StringComparer.Ordinal))
        {
            string page = Path.GetFileNameWithoutExtension(file);
            CmdletHelp help = MarkdownHelpParser.Parse(File.ReadAllText(file));
            for (int i = 0; i < help.Examples.Count; i++)
            {
                yield return ($"{page} {i + 1}", help.Examples[i].Title, help.Examples[i].Code);
            }
        }
    }

    /// <summary>The script of an example: its prompt lines without the prompts (all of it when it has no prompt).</summary>
    private static string ScriptOf(string code)
    {
        string[] lines = code.Replace("\r\n", "\n", StringComparison.Ordinal).Split('\n');
        string[] typed = lines.Where(l => l.StartsWith("PS>", StringComparison.Ordinal) || l.StartsWith(">>", StringComparison.Ordinal))
            .Select(l => l.StartsWith("PS>", StringComparison.Ordinal) ? l[3..].TrimStart() : l[2..].TrimStart()).ToArray();
        return string.Join('\n', typed.Length > 0 ? typed : lines);
    }

    public static TheoryData<string> Runnable() => new(Examples().Where(e => !s_skipped.ContainsKey(e.Key)).Select(e => e.Key));

    [Theory]
    [MemberData(nameof(Runnable))]
    public void RunsAsWritten(string key)
    {
        (_, string title, string code) = Examples().Single(e => e.Key == key);
        string page = key[..key.LastIndexOf(' ')];
        string prelude = s_preludes.GetValueOrDefault(key) ?? s_preludes.GetValueOrDefault(page) ?? "";
        string script = ScriptOf(code);
        using EngineSession session = EngineSession.Open();
        if (prelude.Length > 0)
        {
            session.RunClean(prelude);
        }

        ScriptResult result = session.Run(script, TimeSpan.FromSeconds(20));
        string what = $"{key}: {title}{Environment.NewLine}{script}{Environment.NewLine}";
        if (s_showsError.TryGetValue(key, out string? shown))
        {
            Assert.True(result.AllErrors.Any(e => e.Exception.Message.Contains(shown, StringComparison.OrdinalIgnoreCase)), what + "the error the example shows did not occur: " + result.Describe());
            Assert.True(result.AllErrors.All(e => e.Exception.Message.Contains(shown, StringComparison.OrdinalIgnoreCase)), what + result.Describe());
            return;
        }

        Assert.True(result.Terminating is null && result.Errors.Count == 0, what + result.Describe());
    }

    [Fact]
    public void EverySkipNamesAnExampleThatExists()
    {
        var keys = Examples().Select(e => e.Key).ToHashSet();
        Assert.All(s_skipped.Keys.Concat(s_showsError.Keys), k => Assert.Contains(k, keys));
        Assert.All(s_preludes.Keys.Where(k => k.Contains(' ', StringComparison.Ordinal)), k => Assert.Contains(k, keys));

        // Most examples run: a table that skipped them all would pass everything.
        Assert.True(keys.Count - s_skipped.Count >= 60, $"only {keys.Count - s_skipped.Count} of {keys.Count} examples run");
    }
}
