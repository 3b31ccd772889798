#Requires -Version 7.4
# Pester 5 tests of what the module shows a person: every format view rendered at 80 and 120 columns with realistic
# values (a 3 TB device, long names, long xenstore paths and values, long NBD URIs), the hex view of Read-BlockDevice
# against the real `hexdump -C`, sizes and rates in one unit style, and help (HelpUri, Get-Help -Online, about topics).
# Run with: Invoke-Pester ./tests/Pester/VirtualDevices.Display.Tests.ps1 (after `dotnet build src/VirtualDevices.PowerShell`).

BeforeDiscovery {
    $manifestPath = Join-Path $PSScriptRoot '../../out/VirtualDevices/VirtualDevices.psd1'
    $cmdletCases = @((Import-PowerShellDataFile -Path $manifestPath).CmdletsToExport | ForEach-Object { @{ Name = $_ } })
    $widthCases = @(@{ Width = 80 }, @{ Width = 120 })
    $aboutCases = @(Get-ChildItem (Join-Path $PSScriptRoot '../../docs') -Filter 'about_*.md' | ForEach-Object { @{ Topic = $_.BaseName; File = $_.FullName } })
    $HasHexdump = $null -ne (Get-Command hexdump -CommandType Application -ErrorAction SilentlyContinue)
}

BeforeAll {
    . (Join-Path $PSScriptRoot 'Helpers/TestHelpers.ps1')
    $manifestPath = Join-Path $PSScriptRoot '../../out/VirtualDevices/VirtualDevices.psd1'
    $docsPath = Join-Path $PSScriptRoot '../../docs/VirtualDevices'
    Import-Module $manifestPath -Force
    Get-BlockDevice | Close-BlockDevice -Confirm:$false
    $OnlineBase = 'https://github.com/VirtualDevices/VirtualDevices/blob/main/docs/VirtualDevices/'

    # Renders objects as the host would at a given width; -List renders Format-List instead of the default view.
    function Get-Rendered([object[]] $InputObject, [int] $Width, [switch] $List) {
        if ($List) { ($InputObject | Format-List | Out-String -Width $Width) } else { ($InputObject | Out-String -Width $Width) }
    }

    # Every line fits the width: nothing wraps in the terminal.
    function Assert-FitsWidth([string] $Text, [int] $Width) {
        foreach ($line in $Text -split "`r?`n") {
            $line.Length | Should -BeLessOrEqual $Width -Because "'$line' should fit $Width columns"
        }
    }

    # The header line of a table (the line above the dashes) holds every expected label.
    function Assert-TableHeaders([string] $Text, [string[]] $Headers) {
        $lines = $Text -split "`r?`n"
        $dash = [Array]::FindIndex($lines, [Predicate[string]] { param($l) $l -match '^-+( +-+)*\s*$' })
        $dash | Should -BeGreaterThan 0 -Because "a table has a dashed line under its headers:`n$Text"
        $labels = @($lines[$dash - 1] -split '\s+' | Where-Object { $_ })
        foreach ($header in $Headers) { $labels | Should -Contain $header }
        $labels.Count | Should -Be @($lines[$dash] -split '\s+' | Where-Object { $_ }).Count -Because 'no header is cut or wrapped'
    }

    # The text of one left-aligned column across all rows (wrapped pieces joined, whitespace removed), read from the
    # positions of the dashes under the headers.
    # -Token: the column is followed by a right-aligned one, whose figures may begin left of its header's dashes, so
    # only the first word of each piece is the column's (the values checked this way have no spaces).
    function Get-ColumnText([string] $Text, [string] $Header, [switch] $Token) {
        $lines = $Text -split "`r?`n"
        $dash = [Array]::FindIndex($lines, [Predicate[string]] { param($l) $l -match '^-+( +-+)*\s*$' })
        $segments = @([regex]::Matches($lines[$dash], '-+'))
        $index = -1
        for ($i = 0; $i -lt $segments.Count; $i++) {
            $label = $lines[$dash - 1].PadRight($segments[$i].Index + $segments[$i].Length).Substring($segments[$i].Index, $segments[$i].Length)
            if ($label -eq $Header) { $index = $i }
        }
        $index | Should -BeGreaterOrEqual 0 -Because "the table should have a '$Header' column"
        $start = $segments[$index].Index
        $end = if ($index + 1 -lt $segments.Count) { $segments[$index + 1].Index } else { [int]::MaxValue }
        $pieces = foreach ($line in $lines[($dash + 1)..($lines.Count - 1)]) {
            if ($line.Length -gt $start) {
                $piece = $line.Substring($start, [Math]::Min($line.Length, $end) - $start)
                if ($Token) { ($piece.TrimStart() -split ' ', 2)[0] } else { $piece }
            }
        }
        ($pieces -join '') -replace '\s', ''
    }

    # The value is shown whole in the column: no character cut, however the column wrapped it.
    function Assert-ColumnHolds([string] $Text, [string] $Header, [string] $Value, [switch] $Token) {
        (Get-ColumnText $Text $Header -Token:$Token) | Should -BeLike ('*' + [WildcardPattern]::Escape(($Value -replace '\s', '')) + '*')
    }

    # A list entry 'Label : value' is present, with the value whole (list values wrap onto indented lines).
    function Assert-ListHolds([string] $Text, [string] $Label, [string] $Value) {
        $joined = ($Text -split "`r?`n" | ForEach-Object { $_.Trim() }) -join ''
        $joined -replace '\s', '' | Should -BeLike ('*' + [WildcardPattern]::Escape("$Label`:" + ($Value -replace '\s', '')) + '*')
    }

    # Short enough for unix socket paths (at most 108 bytes) below it; long names are made in subfolders.
    $work = Join-Path ([IO.Path]::GetTempPath()) "vd-display-$PID"
    $longDir = Join-Path $work 'a-directory-with-a-rather-long-name-for-the-paths'
    New-Item -ItemType Directory -Path $longDir -Force | Out-Null
}

AfterAll {
    Get-NbdServer | Stop-NbdServer -Confirm:$false
    Get-XenstoreServer | Stop-XenstoreServer -Confirm:$false
    Get-BlockDevice | Close-BlockDevice -Confirm:$false
    Remove-Item -LiteralPath $work -Recurse -Force -ErrorAction SilentlyContinue
}

Describe 'Sizes and rates' {
    It 'scales <Bytes> bytes to <Text>' -TestCases @(
        @{ Bytes = 0; Text = '0 B' }, @{ Bytes = 512; Text = '512 B' }, @{ Bytes = 1023; Text = '1023 B' },
        @{ Bytes = 1024; Text = '1.0 KiB' }, @{ Bytes = 1536; Text = '1.5 KiB' }, @{ Bytes = 1048575; Text = '1.0 MiB' },
        @{ Bytes = 64MB; Text = '64.0 MiB' }, @{ Bytes = 1GB; Text = '1.0 GiB' }, @{ Bytes = 3TB; Text = '3.0 TiB' },
        @{ Bytes = 3000000000000; Text = '2.7 TiB' }, @{ Bytes = 2.5PB; Text = '2.5 PiB' }, @{ Bytes = [long]::MaxValue; Text = '8.0 EiB' }
    ) {
        [VirtualDevices.PowerShell.Display.ByteSize]::Format([long]$Bytes) | Should -BeExactly $Text
    }

    It 'writes rates as sizes per second' {
        [VirtualDevices.PowerShell.Display.ByteSize]::FormatRate(123.4MB) | Should -BeExactly '123.4 MiB/s'
        [VirtualDevices.PowerShell.Display.ByteSize]::FormatRate(0) | Should -BeExactly '0 B/s'
        [VirtualDevices.PowerShell.Display.ByteSize]::FormatRate([double]::NaN) | Should -BeExactly '0 B/s'
    }

    It 'uses one unit style in every view: no decimal MB, no Mbit' {
        $format = Get-Content -Raw (Join-Path (Split-Path $manifestPath) 'VirtualDevices.format.ps1xml')
        $format | Should -Not -Match 'MB/s|Mbit|1e6|ReadMiB|WriteMiB|RxMiB|TxMiB'
    }
}

Describe 'Block device views at <Width> columns' -ForEach $widthCases {
    BeforeAll {
        $big = New-BlockDevice -Size 3TB -Name a-3tb-ram-disk-with-a-long-name
        $imagePath = Join-Path $longDir 'three-decimal-terabytes-sparse-image-with-a-long-file-name.img'
        $image = New-BlockDevice -Path $imagePath -Size 3000000000000 -Name image3tb
        $data = [byte[]]::new(4096)
        [Text.Encoding]::ASCII.GetBytes('a boot sector').CopyTo($data, 0)
        Write-BlockDevice -Device $image -Sector 0 -Data $data -Force
    }
    AfterAll {
        Close-BlockDevice -Device $big, $image -Confirm:$false
        Remove-Item -LiteralPath $imagePath -Force -ErrorAction SilentlyContinue
    }

    It 'shows devices with their scaled sizes and whole locations' {
        $text = Get-Rendered (Get-BlockDevice) $Width
        Assert-FitsWidth $text $Width
        Assert-TableHeaders $text 'Name', 'Driver', 'Size', 'Sector', 'ReadOnly', 'Connected', 'Location'
        $text | Should -Match '\b3\.0 TiB\b'
        $text | Should -Match '\b2\.7 TiB\b'
        Assert-ColumnHolds $text 'Location' $imagePath
        Assert-ColumnHolds $text 'Name' 'a-3tb-ram-disk-with-a-long-name'
    }

    It 'lists a device with its size in units and in bytes' {
        $text = Get-Rendered $image $Width -List
        Assert-FitsWidth $text $Width
        Assert-ListHolds $text 'Size' '2.7 TiB (3,000,000,000,000 bytes)'
        Assert-ListHolds $text 'Location' $imagePath
        $text | Should -Not -Match 'BlockDeviceInfo \{'
    }

    It 'shows Get-BlockDeviceInfo with scaled sizes' {
        $text = Get-Rendered (Get-BlockDeviceInfo -Device $big) $Width
        Assert-FitsWidth $text $Width
        Assert-ListHolds $text 'Size' '3.0 TiB (3,298,534,883,328 bytes)'
        Assert-ListHolds $text 'SectorCount' '6442450944'
        Assert-ListHolds $text 'MaximumTransferSize' 'unlimited'
    }

    It 'shows allocation extents with offsets and scaled lengths' {
        $text = Get-Rendered (Get-BlockDeviceAllocation -Device $image) $Width
        Assert-FitsWidth $text $Width
        Assert-TableHeaders $text 'Device', 'Sector', 'Offset', 'Length', 'Type'
        $text | Should -Match 'image3tb\s+0\s+0\s+4\.0 KiB data'
        $text | Should -Match '\b2\.7 TiB hole,zero'
    }

    It 'shows transfer results with a rate' {
        $result = [VirtualDevices.Block.BlockTransferResult]::new('a-device-with-a-long-name', 5859374000, 1TB, [TimeSpan]::FromSeconds(1234.5))
        $text = Get-Rendered $result $Width
        Assert-FitsWidth $text $Width
        Assert-TableHeaders $text 'Device', 'Sector', 'Transferred', 'Seconds', 'Rate'
        $text | Should -Match '5859374000\s+1\.0 TiB\s+1,234\.500\s+849\.4 MiB/s'
        Assert-ColumnHolds $text 'Device' 'a-device-with-a-long-name' -Token
        Assert-FitsWidth (Get-Rendered $result $Width -List) $Width
    }

    It 'shows the hex view of a read within the width' {
        $text = Get-Rendered (Read-BlockDevice -Device $image -Sector 0 -Count 1) $Width
        Assert-FitsWidth $text $Width
        $text | Should -Match 'Device: image3tb  Sector: 0  Offset: 0  Length: 512'
        $text | Should -Match '(?m)^00000000  61 20 62 6f 6f 74 20 73  65 63 74 6f 72 00 00 00  \|a boot sector\.\.\.\|$'
    }
}

Describe 'Statistics views at <Width> columns' -ForEach $widthCases {
    BeforeAll {
        $now = [DateTimeOffset]::UtcNow
        $block = [VirtualDevices.Devices.BlockStatistics]::new('a-long-device-name', 'file', $now.AddDays(-2).AddHours(-3), $now,
            1.5TB, 12345678, 3000000000000, 87654321, 4242, 17, 3, 2)
        $network = [VirtualDevices.Devices.NetworkStatistics]::new('tap-long-name0', 'tap', $now.AddSeconds(-12.34), $now,
            1234567890, 1000000, 5, 1, 987654321, 900000, 0, 2)
    }

    It 'shows block statistics with every header, scaled sizes and rates, and Elapsed whole' {
        $text = Get-Rendered $block $Width
        Assert-FitsWidth $text $Width
        Assert-TableHeaders $text 'Device', 'Read', 'Read/s', 'Written', 'Write/s', 'Errors', 'Elapsed'
        $text | Should -Match '\b1\.5 TiB\s+8\.6 MiB/s\s+2\.7 TiB\s+15\.6 MiB/s\s+2 2\.03:00:00\b'
        Assert-ColumnHolds $text 'Device' 'a-long-device-name' -Token
    }

    It 'shows operation counts in the BlockOperations view' {
        $text = $block | Format-Table -View BlockOperations | Out-String -Width $Width
        Assert-FitsWidth $text $Width
        Assert-TableHeaders $text 'Device', 'ReadOps', 'WriteOps', 'FlushOps', 'TrimOps', 'ZeroOps', 'Errors', 'Elapsed'
        $text | Should -Match '\b12345678\s+87654321\s+4242\s+17\s+3\s+2 2\.03:00:00\b'
    }

    It 'lists block statistics' {
        $text = Get-Rendered $block $Width -List
        Assert-FitsWidth $text $Width
        Assert-ListHolds $text 'ReadBytes' '1649267441664'
    }

    It 'shows network statistics in the same units' {
        $text = Get-Rendered $network $Width
        Assert-FitsWidth $text $Width
        Assert-TableHeaders $text 'Device', 'Received', 'Recv/s', 'Sent', 'Sent/s', 'Errors', 'Elapsed'
        $text | Should -Match '\b1\.1 GiB\s+95\.4 MiB/s\s+941\.9 MiB\s+76\.3 MiB/s\s+3 00:00:12\.3\b'
        $packets = $network | Format-Table -View NetworkPackets | Out-String -Width $Width
        Assert-FitsWidth $packets $Width
        Assert-TableHeaders $packets 'RxPackets', 'TxPackets', 'RxDrops', 'TxDrops', 'RxErrors', 'TxErrors'
    }

    It 'shows Get-DeviceStats of real devices, sampled, with Elapsed whole' {
        $disk = New-BlockDevice -Size 64MB -Name stats-disk-with-a-long-name
        try {
            Read-BlockDevice -Device $disk -Count 2048 -SectorsPerObject 256 | Out-Null
            $text = Get-Rendered (Get-DeviceStats -Device $disk) $Width
            Assert-FitsWidth $text $Width
            Assert-TableHeaders $text 'Device', 'Read', 'Read/s', 'Written', 'Write/s', 'Errors', 'Elapsed'
            $text | Should -Match '\b1\.0 MiB\s+[\d.]+ [KMG]?i?B/s\s+0 B\s+0 B/s\s+0 \d\d:\d\d:\d\d\.\d\b'
            $sampled = Get-Rendered (Get-DeviceStats -Device $disk -Interval 0.2 -Count 1) $Width
            Assert-FitsWidth $sampled $Width
            $sampled | Should -Match '\b0 B\s+0 B/s\s+0 B\s+0 B/s\s+0 00:00:00\.\d\b'
        }
        finally {
            Close-BlockDevice -Device $disk -Confirm:$false
        }
    }
}

Describe 'The hex view is hexdump -C' -Skip:(-not $HasHexdump) {
    BeforeAll {
        # 16-byte lines: a = 'A'*16, b = 0..15, z = zeros; the layout has runs of repeats, a run broken by one
        # different line, a repeat right after a single line, and a run at the very end.
        function New-Pattern([string] $Layout) {
            $bytes = [Collections.Generic.List[byte]]::new()
            foreach ($c in $Layout.ToCharArray()) {
                switch ($c) {
                    'a' { $bytes.AddRange([byte[]](@(0x41) * 16)) }
                    'b' { $bytes.AddRange([byte[]](0..15)) }
                    'z' { $bytes.AddRange([byte[]]::new(16)) }
                    't' { $bytes.AddRange([Text.Encoding]::ASCII.GetBytes('Hello, hexdump! ')) }
                }
            }
            , $bytes.ToArray()
        }

        # The dump lines Read-BlockDevice shows (the header line and blank lines left out).
        function Get-ModuleDump([string] $Path, [long] $Sector, [long] $Count) {
            $device = Open-BlockDevice -Path $Path -Name pattern
            try {
                $text = Read-BlockDevice -Device $device -Sector $Sector -Count $Count -SectorsPerObject $Count | Out-String -Width 80
            }
            finally {
                Close-BlockDevice -Device $device -Confirm:$false
            }
            @($text -split "`r?`n" | Where-Object { $_ -and $_ -notmatch '^Device: ' })
        }

        function Get-HexdumpC([string] $Path, [long] $Skip, [long] $Length) {
            @(& hexdump -C -s $Skip -n $Length $Path | Where-Object { $_ })
        }
    }

    It 'matches hexdump -C for <Name>' -TestCases @(
        @{ Name = 'one zero sector'; Layout = ('z' * 32); Sector = 0; Count = 1 }
        @{ Name = 'text, then a run of zeros'; Layout = ('tt' + 'z' * 30); Sector = 0; Count = 1 }
        @{ Name = 'runs broken by single lines'; Layout = ('aaab' + 'zzzzzzb' + 'bbbb' + 'a' + 'z' * 19) * 4; Sector = 0; Count = 4 }
        @{ Name = 'a run at the end of several sectors'; Layout = ('tbab' + 'a' * 124); Sector = 0; Count = 4 }
        @{ Name = 'a read from the middle of the image'; Layout = ('tz' * 64) + ('b' * 32) + ('ab' * 16) + ('z' * 64); Sector = 3; Count = 5 }
        @{ Name = 'eight sectors, the most one object shows'; Layout = ('tbbz' * 64); Sector = 0; Count = 8 }
    ) {
        $bytes = New-Pattern $Layout
        $path = Join-Path $work "pattern-$($Name -replace '\W', '-').img"
        [IO.File]::WriteAllBytes($path, $bytes)
        $module = Get-ModuleDump $path $Sector $Count
        $expected = Get-HexdumpC $path ($Sector * 512) ($Count * 512)
        $module -join "`n" | Should -BeExactly ($expected -join "`n")
        $module | Should -Contain '*'
        foreach ($line in $module) { $line.Length | Should -BeLessOrEqual 78 }
    }

    It 'matches hexdump -C on random bytes (no repeats)' {
        $bytes = [byte[]]::new(2048)
        [Random]::new(11).NextBytes($bytes)
        $path = Join-Path $work 'random.img'
        [IO.File]::WriteAllBytes($path, $bytes)
        (Get-ModuleDump $path 0 4) -join "`n" | Should -BeExactly ((Get-HexdumpC $path 0 2048) -join "`n")
    }
}

Describe 'NBD views at <Width> columns' -ForEach $widthCases {
    BeforeAll {
        $socketDir = Join-Path $work "nbd-$Width/a-socket-directory-with-a-long-name"
        New-Item -ItemType Directory -Path $socketDir -Force | Out-Null
        $socket = Join-Path $socketDir 'nbd.sock'
        $served = New-BlockDevice -Size 3TB -Name "served-3tb-device-$Width"
        $unixServer = Start-NbdServer -Device $served -SocketPath $socket -Name "nbd-unix-server-$Width"
        $tcpServer = Start-NbdServer -Device $served -Port 0 -ExportName 'an-export-with-a-long-name' -ReadOnly -Name "nbd-tcp-$Width"
        $uri = "nbd+unix:///?socket=$socket"
    }
    AfterAll {
        Stop-NbdServer -Server $unixServer, $tcpServer -Confirm:$false
        Close-BlockDevice -Device $served -Confirm:$false
    }

    It 'shows servers with their URIs and exports' {
        $text = Get-Rendered (Get-NbdServer -Name "nbd-unix-server-$Width", "nbd-tcp-$Width") $Width
        Assert-FitsWidth $text $Width
        Assert-TableHeaders $text 'Name', 'Running', 'Clients', 'Endpoint', 'Exports'
        Assert-ColumnHolds $text 'Endpoint' $uri
        Assert-ColumnHolds $text 'Endpoint' "nbd://$($tcpServer.TcpEndPoint)"
        Assert-ColumnHolds $text 'Exports' 'an-export-with-a-long-name'
        Assert-ColumnHolds $text 'Name' "nbd-unix-server-$Width"
    }

    It 'lists a server readably: options summarized, exports named, no record dumps' {
        $text = Get-Rendered (Get-NbdServer -Name "nbd-unix-server-$Width", "nbd-tcp-$Width") $Width -List
        Assert-FitsWidth $text $Width
        $text | Should -Not -Match 'NbdServerOptions|\{ *\w+ = '
        Assert-ListHolds $text 'Uri' $uri
        Assert-ListHolds $text 'Exports' "(default) -> served-3tb-device-$Width"
        Assert-ListHolds $text 'Exports' "an-export-with-a-long-name -> served-3tb-device-$Width (read-only)"
        Assert-ListHolds $text 'Options' 'TLS Off; at most 256 clients, 64 requests in flight each, requests up to 32.0 MiB'
    }

    It 'shows exports with their scaled sizes' {
        $exports = Get-NbdExport -Uri $uri
        $text = Get-Rendered $exports $Width
        Assert-FitsWidth $text $Width
        Assert-TableHeaders $text 'Name', 'Size', 'ReadOnly', 'Block', 'Description'
        $text | Should -Match '\(default\)\s+3\.0 TiB False\s+512/4096/33554432'
        $list = Get-Rendered $exports $Width -List
        Assert-FitsWidth $list $Width
        Assert-ListHolds $list 'Size' '3.0 TiB (3,298,534,883,328 bytes)'
    }

    It 'shows a connected NBD device with its whole URI' {
        $device = Connect-NbdDevice -Uri $uri -Name "nbd-client-$Width"
        try {
            $text = Get-Rendered $device $Width
            Assert-FitsWidth $text $Width
            $text | Should -Match '\b3\.0 TiB\b'
            Assert-ColumnHolds $text 'Location' $uri
        }
        finally {
            Disconnect-NbdDevice -Device $device -Confirm:$false
        }
    }
}

Describe 'Xenstore views at <Width> columns' -ForEach $widthCases {
    BeforeAll {
        $xsSocket = Join-Path $work "xenstored-$Width.sock"
        $xsServer = Start-XenstoreServer -SocketPath $xsSocket -Name "xenstore-server-with-a-long-name-$Width"
        $node = '/local/domain/12345/device/vbd/51712/a-backend-with-a-long-name/and/deeper/still'
        $params = '/var/lib/xen/images/a-guest-with-a-long-name/disk-image-0001.qcow2,format=qcow2,cache=none'
        Set-XenstoreItem "$node/params" $params
        Set-XenstoreItem "$node/state" 4
    }
    AfterAll {
        Stop-XenstoreServer -Server $xsServer -Confirm:$false
    }

    It 'shows items with whole paths and values' {
        $text = Get-Rendered (Get-XenstoreItem "$node/params", "$node/state") $Width
        Assert-FitsWidth $text $Width
        Assert-TableHeaders $text 'NodePath', 'Children', 'Value'
        Assert-ColumnHolds $text 'NodePath' "$node/params"
        Assert-ColumnHolds $text 'Value' $params
        $list = Get-Rendered (Get-XenstoreItem "$node/params") $Width -List
        Assert-FitsWidth $list $Width
        Assert-ListHolds $list 'Value' $params
    }

    It 'shows the changes of Watch-XenstorePath -IncludeValue with their values' {
        $changes = Watch-XenstorePath "$node/state" -IncludeValue -Count 1 -Timeout 10
        $text = Get-Rendered $changes $Width
        Assert-FitsWidth $text $Width
        Assert-TableHeaders $text 'Time', 'Exists', 'NodePath', 'Value'
        Assert-ColumnHolds $text 'NodePath' "$node/state"
        Assert-ColumnHolds $text 'Value' '4'
        $list = Get-Rendered $changes $Width -List
        Assert-FitsWidth $list $Width
        Assert-ListHolds $list 'Token' $changes[0].Token
    }

    It 'shows permissions' {
        Set-XenstorePermission "$node/state" -Permission 'n0', 'r12345'
        $text = Get-Rendered (Get-XenstorePermission "$node/state") $Width
        Assert-FitsWidth $text $Width
        Assert-TableHeaders $text 'NodePath', 'Owner', 'Others', 'Permissions'
        Assert-ColumnHolds $text 'NodePath' "$node/state"
        Assert-ColumnHolds $text 'Permissions' 'n0 r12345'
        Assert-FitsWidth (Get-Rendered (Get-XenstorePermission "$node/state") $Width -List) $Width
    }

    It 'shows servers and client connections' {
        $text = Get-Rendered (Get-XenstoreServer -Name $xsServer.Name) $Width
        Assert-FitsWidth $text $Width
        Assert-TableHeaders $text 'Name', 'Running', 'Connections', 'SocketPath'
        Assert-ColumnHolds $text 'SocketPath' $xsSocket
        Assert-ColumnHolds $text 'Name' $xsServer.Name
        Assert-FitsWidth (Get-Rendered $xsServer $Width -List) $Width

        $client = [VirtualDevices.Xen.Xenstore.Client.XenstoreClient]::ConnectAsync($xsSocket, [Threading.CancellationToken]::None).AsTask().GetAwaiter().GetResult()
        try {
            $clientText = Get-Rendered $client $Width
            Assert-FitsWidth $clientText $Width
            Assert-TableHeaders $clientText 'Connected', 'Reconnects', 'Endpoint'
            Assert-ColumnHolds $clientText 'Endpoint' $xsSocket
        }
        finally {
            $client.DisposeAsync().AsTask().Wait(5000) | Out-Null
        }
    }
}

Describe 'Online help' {
    It '<Name> has the HelpUri of its docs page' -TestCases $cmdletCases {
        (Get-Command -Module VirtualDevices -Name $Name).HelpUri | Should -BeExactly "$OnlineBase$Name.md"
    }

    It "<Name>'s docs page has the same online version, first among the help's links" -TestCases $cmdletCases {
        (Get-Content -LiteralPath (Join-Path $docsPath "$Name.md") -TotalCount 6) | Should -Contain "online version: $OnlineBase$Name.md"
        $link = @((Get-Help $Name).relatedLinks.navigationLink)[0]
        $link.uri | Should -BeExactly "$OnlineBase$Name.md"
    }

    It 'Get-Help -Online opens the page in the browser' -Skip:(-not $IsLinux) {
        # .NET opens a URI with xdg-open from PATH on Linux; a stand-in records what it was asked to open.
        $bin = Join-Path $work 'browser'
        New-Item -ItemType Directory -Path $bin -Force | Out-Null
        $opened = Join-Path $bin 'opened.txt'
        Set-Content -LiteralPath (Join-Path $bin 'xdg-open') -Value "#!/bin/sh`necho `"`$1`" >> '$opened'"
        & chmod +x (Join-Path $bin 'xdg-open')
        $path = $env:PATH
        try {
            $env:PATH = "$bin$([IO.Path]::PathSeparator)$path"
            Get-Help Read-BlockDevice -Online -ErrorAction Stop
            $deadline = [DateTime]::UtcNow.AddSeconds(10)
            while (-not (Test-Path -LiteralPath $opened) -and [DateTime]::UtcNow -lt $deadline) { Start-Sleep -Milliseconds 50 }
            Get-Content -LiteralPath $opened | Should -Be "${OnlineBase}Read-BlockDevice.md"
        }
        finally {
            $env:PATH = $path
        }
    }
}

Describe 'About topics' {
    It '<Topic> has its short description as its synopsis' -TestCases $aboutCases {
        [string[]] $lines = [IO.File]::ReadAllLines($File)
        $index = [Array]::FindIndex($lines, [Predicate[string]] { param($l) $l -match '^## Short description\s*$' })
        $index | Should -BeGreaterThan 0
        $expected = $lines[$index + 1].Trim()
        $help = Get-Help $Topic
        $help.Name | Should -Be $Topic
        $help.Synopsis | Should -BeExactly $expected
        (Get-Help "about_*" | Where-Object Name -EQ $Topic).Synopsis | Should -BeExactly $expected
    }
}
