using System.Xml.Linq;
using VirtualDevices.PowerShell.Tests.Engine;

namespace VirtualDevices.PowerShell.Tests;

/// <summary>
/// Every view of module/VirtualDevices.format.ps1xml, rendered by the hosted engine from real objects with its own
/// <c>Format-Table/-List/-Custom -View</c> and <c>Out-String -Width 80</c> and <c>-Width 120</c>: no line is longer
/// than the width, and nothing is lost. A table follows the display rule (every column but the last has a width;
/// long values wrap inside their column), shows all its column headers, cuts no value with '…', and each column,
/// read down the rows, holds exactly the values of its objects (so wrapping moved text but lost none). A list
/// shows every label (an item with a condition: for the objects that meet it) and, wrapped, the same text as at
/// 1000 columns. A custom view (the hex dump) is not wrapped. The first view of a type is what <c>Out-String</c>
/// shows by default; and <c>Format-List</c> shows no record dumped whole by its ToString.
/// </summary>
/// <remarks>
/// Rendering only reads: the objects of every view are made once, in one session for the class (~1 s of set-up
/// instead of one per case).
/// </remarks>
public sealed class FormatViewSweepTests : IClassFixture<FormatViewSweepTests.Rendered>
{
    private const string Setup = """
        $big = New-BlockDevice -Size 3TB -Name big
        $img = New-BlockDevice -Path "$PWD/disk.img" -Size 64MB -Name img
        [IO.File]::WriteAllBytes("$PWD/odd.img", [byte[]]::new(1MB + 100))
        $odd = Open-BlockDevice -Path "$PWD/odd.img" -Name odd -ReadOnly
        Write-BlockDevice -Device $img -Sector 2048 -Data ([Text.Encoding]::ASCII.GetBytes('hello, world'.PadRight(512))) -Force
        $null = Read-BlockDevice -Device $img -Sector 0 -Count 64
        $null = Start-XenstoreServer -Name xs -SocketPath "$PWD/xs.sock"
        Set-XenstoreItem /local/domain/1/name guest1
        Set-XenstoreItem /local/domain/1/device/vbd/51712/state 4
        $null = Start-NbdServer -Device $img -SocketPath "$PWD/nbd.sock" -Name nbd-server
        $na, $nb = New-NetworkDevice -Name na -PeerName nb
        $null = Start-NetworkCapture -Device $na, $nb -Path "$PWD/link.pcapng" -Name cap
        New-NetworkFrame -Arp Request -Source $na.MacAddress -SourceAddress 10.0.0.1 -DestinationAddress 10.0.0.2 | Send-NetworkFrame -Device $na
        New-NetworkFrame -IcmpEcho -Source $na.MacAddress -Destination $nb.MacAddress -SourceAddress 192.168.100.101 -DestinationAddress 192.168.100.102 | Send-NetworkFrame -Device $na
        New-NetworkFrame -EtherType 0x88B5 -Source $na.MacAddress -VlanId 4000 -Payload ([byte[]]::new(1400)) | Send-NetworkFrame -Device $na
        $pair1 = [VirtualDevices.Network.MemoryNetworkDevice]::CreatePair(1500, 256, 'mem1a', 'mem1b')
        $pair2 = [VirtualDevices.Network.MemoryNetworkDevice]::CreatePair(1500, 256, 'mem2a', 'mem2b')
        $null = Connect-NetworkDevice -Device $pair1.Item2, $pair2.Item2 -Switch switch-with-a-long-name
        $frame = [byte[]]::new(60); 0..5 | ForEach-Object { $frame[$_] = 0xff }; $frame[6] = 2; $frame[11] = 9
        $pair1.Item1.WriteAsync([ReadOnlyMemory[byte]]$frame).AsTask().Wait()
        for ($i = 0; $i -lt 500 -and -not (Get-NetworkSwitch -AddressTable); $i++) { Start-Sleep -Milliseconds 10 }
        $null = Start-XenLoopbackHypervisor -Name xen-loopback-with-a-long-name -SocketPath "$PWD/xl.sock"
        $null = Start-XenLoopbackHypervisor -Name xl-local
        $dom0 = Join-XenLoopbackHypervisor -Hypervisor xen-loopback-with-a-long-name -DomainId 0
        $dom1 = Join-XenLoopbackHypervisor -SocketPath "$PWD/xl.sock" -DomainId 32000 -Name guest
        $granted = $dom0.Grant(32000, 3, 'ReadOnly'), $dom1.Grant(0, 1, 'ReadWrite')
        $unbound = $dom0.AllocateUnbound(32000)
        $bound = $dom1.BindInterdomain(0, $dom0.AllocateUnbound(32000).Port)
        """;

    /// <summary>Per type: the script that outputs real objects of it (each of its views renders them).</summary>
    private static readonly Dictionary<string, string> s_producers = new()
    {
        ["VirtualDevices.Block.BlockDevice"] = "Get-BlockDevice",
        ["VirtualDevices.Block.BlockData"] = "Read-BlockDevice -Device $img -Sector 2047 -Count 3",
        // The odd image is not a whole number of sectors: its list shows the conditional TrailingBytes.
        ["VirtualDevices.Block.BlockDeviceDetails"] = "Get-BlockDeviceInfo -Device $big, $odd",
        ["VirtualDevices.Devices.BlockStatistics"] = "Get-DeviceStats -Kind Block",
        ["VirtualDevices.Block.BlockTransferResult"] = "Read-BlockDevice -Device $img -Count 2048 -OutFile \"$PWD/out.bin\" -PassThru",
        ["VirtualDevices.Block.BlockAllocationExtent"] = "Get-BlockDeviceAllocation -Device $img",
        ["VirtualDevices.Xen.Xenstore.XenstoreItem"] = "Get-XenstoreItem /local/domain/1 -Recurse",
        ["VirtualDevices.Xen.Xenstore.XenstoreChange"] = "Watch-XenstorePath /local/domain/1/name -IncludeValue -Count 1 -Timeout 5",
        ["VirtualDevices.Xen.Xenstore.XenstoreItemPermissions"] = "Get-XenstorePermission /local/domain/1/name",
        ["VirtualDevices.Xen.Xenstore.Server.XenstoreServer"] = "Get-XenstoreServer",
        ["VirtualDevices.Xen.Xenstore.Client.XenstoreClient"] = "Connect-Xenstore -Server (Get-XenstoreServer -Name xs)",
        ["VirtualDevices.Nbd.Client.NbdExportInfo"] = "Get-NbdExport -Uri \"nbd+unix:///?socket=$PWD/nbd.sock\"",
        ["VirtualDevices.Nbd.Server.NbdServer"] = "Get-NbdServer",
        ["VirtualDevices.Network.EthernetFrame"] = "Receive-NetworkFrame -Device $nb -Count 3 -Timeout 10",
        ["VirtualDevices.Network.Capture.NetworkCapture"] = "Get-NetworkCapture",
        ["VirtualDevices.Network.NetworkDevice"] = "$na, $nb",
        ["VirtualDevices.Devices.NetworkStatistics"] = "Get-DeviceStats -Name na, nb",
        ["VirtualDevices.Network.Switch.NetworkSwitch"] = "Get-NetworkSwitch",
        ["VirtualDevices.Network.Switch.SwitchPort"] = "Get-NetworkSwitch -Port",
        ["VirtualDevices.Network.Switch.MacTableEntry"] = "Get-NetworkSwitch -AddressTable",
        ["VirtualDevices.Xen.Loopback.LoopbackHypervisor"] = "Get-XenLoopbackHypervisor",
        ["VirtualDevices.Xen.Loopback.LoopbackDomain"] = "Get-XenLoopbackDomain",
        ["VirtualDevices.Xen.Loopback.LoopbackDomainInfo"] = "Get-XenDomain",
        ["VirtualDevices.Xen.Loopback.LoopbackGrantInfo"] = "Get-XenGrant",
        ["VirtualDevices.Xen.Loopback.LoopbackChannelInfo"] = "Get-XenEventChannel",
        ["VirtualDevices.Xen.XenPlatformInfo"] = "Get-XenPlatform",
    };

    /// <summary>Types whose views no command here can make objects for (none now: New-NetworkDevice made the network family's).</summary>
    private static readonly string[] s_noProducer = [];

    private static IEnumerable<XElement> Views =>
        XDocument.Load(Path.Combine(ModuleLayout.RepoRoot, "module", "VirtualDevices.format.ps1xml")).Descendants("View");

    private static string TypeOf(XElement view) => view.Descendants("TypeName").First().Value;

    private readonly Rendered _rendered;

    public FormatViewSweepTests(Rendered rendered) => _rendered = rendered;

    /// <summary>The one session of the class, with the objects of every type made (in <c>$objects['type']</c>).</summary>
    public sealed class Rendered : IDisposable
    {
        public Rendered()
        {
            Session = EngineSession.Open();
            Session.RunClean(Setup + "\n$objects = @{}");
            foreach ((string type, string script) in s_producers)
            {
                Session.RunClean($"$objects['{type}'] = @({script})");
            }
        }

        public EngineSession Session { get; }

        public void Dispose() => Session.Dispose();
    }

    public static TheoryData<string, int> Cases()
    {
        var data = new TheoryData<string, int>();
        foreach (string view in Views.Where(v => !s_noProducer.Contains(TypeOf(v))).Select(v => v.Element("Name")!.Value))
        {
            data.Add(view, 80);
            data.Add(view, 120);
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void RendersWithinTheWidth(string viewName, int width)
    {
        XElement view = Views.Single(v => v.Element("Name")!.Value == viewName);
        string typeName = TypeOf(view);
        Assert.True(s_producers.TryGetValue(typeName, out string? producer), $"no producer for {typeName} (the view {viewName})");
        EngineSession session = _rendered.Session;
        string objects = $"$objects['{typeName}']";
        Assert.True(session.RunClean($"{objects}[0].PSObject.TypeNames").Any(t => t.ToString() == typeName), $"{producer} does not output {typeName}");
        int count = (int)session.RunClean($"{objects}.Count").Single().BaseObject;
        string format = view.Element("TableControl") is not null ? "Format-Table" : view.Element("ListControl") is not null ? "Format-List" : "Format-Custom";
        string Render(int w) => session.RunClean($"{objects} | {format} -View {viewName} | Out-String -Width {w}").Single().ToString()!;
        string text = Render(width);
        string wide = Render(1000);
        string[] lines = Lines(text);
        string shown = $"{producer} | {format} -View {viewName} | Out-String -Width {width}:{Environment.NewLine}{text}";

        Assert.True(lines.All(l => l.Length <= width), $"a line is longer than {width}: {shown}");
        Assert.True(!text.Contains('…', StringComparison.Ordinal), $"a value is cut: {shown}");
        if (view.Element("TableControl") is { } table)
        {
            CheckTable(table, lines, ColumnValues(session, objects, table), shown);
        }
        else if (view.Element("CustomControl") is not null)
        {
            // Out-String wraps what does not fit: the same number of lines as without a limit means nothing wrapped.
            // And a line of exactly the width wraps in a terminal of that width (the host's newline falls on the next
            // row, as PowerShell's own tables avoid by using one column less): each line must be shorter.
            Assert.True(lines.Length == Lines(wide).Length, $"lines wrap at {width} columns: {shown}");
            string? full = Lines(wide).FirstOrDefault(l => l.Length >= width);
            Assert.True(full is null, $"a line of {full?.Length} characters fills a terminal of {width} columns and wraps there: '{full}'");
        }
        else if (view.Element("ListControl") is { } list)
        {
            // Format-List wraps a long value onto the next lines, under the value column: the text is all there.
            foreach (XElement item in list.Descendants("ListItem"))
            {
                string label = item.Element("Label")?.Value ?? item.Element("PropertyName")!.Value;
                // A conditional item is due only where one of the objects meets its condition (the producers include
                // such objects where they can be made: an image that is not a whole number of sectors, say).
                if (item.Element("ItemSelectionCondition")?.Element("ScriptBlock")?.Value is { } condition
                    && (int)session.RunClean($"@({objects} | Where-Object {{ {condition} }}).Count").Single().BaseObject == 0)
                {
                    Assert.True(!lines.Any(l => l.StartsWith(label + " ", StringComparison.Ordinal)), $"'{label}' shown though no object meets its condition: {shown}");
                    continue;
                }

                Assert.True(lines.Any(l => l.StartsWith(label + " ", StringComparison.Ordinal) && l.Contains(" : ", StringComparison.Ordinal)), $"no '{label}' line: {shown}");
            }

            Assert.True(NoSpace(text) == NoSpace(wide), $"the list at {width} columns does not hold the text it holds at 1000: {shown}{Environment.NewLine}at 1000:{Environment.NewLine}{wide}");
        }

        // The first view of a type is its default.
        if (Views.First(v => TypeOf(v) == typeName) == view)
        {
            Assert.Equal(wide, session.RunClean($"{objects} | Out-String -Width 1000").Single().ToString());
        }

        string formattedList = string.Join("", session.RunClean($"{objects} | Format-List | Out-String -Width 200"));
        Assert.DoesNotMatch(@"\w \{ \w+ = ", formattedList);
    }

    private static string[] Lines(string text) => text.Split('\n').Select(l => l.TrimEnd('\r')).ToArray();

    private static string NoSpace(string text) => string.Concat(text.Where(c => !char.IsWhiteSpace(c)));

    /// <summary>
    /// What each column of each row holds, unwrapped: the view's property or script block evaluated on each object,
    /// as a table shows it (a collection as <c>{a, b}</c>). A sized column wraps at any width, so the table itself
    /// cannot tell.
    /// </summary>
    private static string[][] ColumnValues(EngineSession session, string objects, XElement table)
    {
        string[] items = table.Descendants("TableColumnItem").Select(i =>
            i.Element("PropertyName") is { } property ? $"$_.'{property.Value}'" : $"& {{ {i.Element("ScriptBlock")!.Value} }}").ToArray();
        const string Show = "function __vdShow($v) { if ($v -is [Collections.IEnumerable] -and $v -isnot [string]) { '{' + (@($v | ForEach-Object { \"$_\" }) -join ', ') + '}' } else { \"$v\" } }; ";
        string script = Show + $"{objects} | ForEach-Object {{ ,@({string.Join(", ", items.Select(i => $"(__vdShow ({i}))"))}) }}";
        return session.RunClean(script).Select(row => ((object[])row.BaseObject).Select(v => v?.ToString() ?? "").ToArray()).ToArray();
    }

    private static void CheckTable(XElement table, string[] lines, string[][] values, string shown)
    {
        XElement[] headers = table.Descendants("TableColumnHeader").ToArray();
        string[] labels = headers.Select(h => h.Element("Label")?.Value ?? "").ToArray();

        // The display rule: only the last column may be unsized (it takes the rest of the line).
        int?[] widths = headers.Select(h => h.Element("Width") is { } w ? int.Parse(w.Value, System.Globalization.CultureInfo.InvariantCulture) : (int?)null).ToArray();
        Assert.True(widths[..^1].All(w => w is not null), $"a column other than the last has no width: [{string.Join(", ", labels)}]");

        // Columns as laid out: each at its width, one space between, the last to the end of the line.
        int[] starts = new int[widths.Length];
        for (int i = 1; i < widths.Length; i++)
        {
            starts[i] = starts[i - 1] + widths[i - 1]!.Value + 1;
        }

        string[] Columns(string line) =>
            starts.Select((s, i) => Slice(line, s, i + 1 < starts.Length ? starts[i + 1] - 1 : int.MaxValue)).ToArray();

        (string[] Header, string[][] Rows) Parse(string[] all)
        {
            int dashes = Array.FindIndex(all, l => l.Trim().Length > 0 && l.Trim().All(c => c is '-' or ' '));
            Assert.True(dashes > 0, $"no table header: {shown}");
            return (Columns(all[dashes - 1]).Select(h => h.Trim()).ToArray(), all.Skip(dashes + 1).Where(l => l.Trim().Length > 0).Select(Columns).ToArray());
        }

        (string[] header, string[][] rows) = Parse(lines);
        Assert.True(labels.SequenceEqual(header), $"headers [{string.Join(", ", header)}], expected [{string.Join(", ", labels)}]: {shown}");

        // Read down each column: a wrapped value continues on the next lines of its own column, so the text of each
        // column is that of the unwrapped table (spaces aside: a wrap drops the space it breaks at).
        for (int c = 0; c < labels.Length; c++)
        {
            string narrow = NoSpace(string.Concat(rows.Select(r => r[c])));
            string full = NoSpace(string.Concat(values.Select(r => r[c])));
            Assert.True(narrow == full, $"column {labels[c]} holds '{narrow}', its values are '{full}': {shown}");
        }
    }

    private static string Slice(string line, int start, int end) =>
        start >= line.Length ? "" : line[start..Math.Min(end, line.Length)];

    [Fact]
    public void EveryViewIsRenderedOrHasNoProducer()
    {
        Assert.All(Views, v => Assert.True(s_producers.ContainsKey(TypeOf(v)) || s_noProducer.Contains(TypeOf(v)), $"the view {v.Element("Name")!.Value} is not rendered by the sweep"));
    }
}
