#Requires -Version 7.4
# Pester 5 tests of the network frame and capture cmdlets: New-NetworkDevice (an in-memory link), New-NetworkFrame,
# Send-/Receive-NetworkFrame, Export-/Import-NetworkCapture and the background capture (Start-/Get-/Stop-NetworkCapture),
# with tshark and editcap as the real readers and writers of capture files.
# Run with: Invoke-Pester ./tests/Pester/VirtualDevices.Frames.Tests.ps1 (after `dotnet build src/VirtualDevices.PowerShell`).

BeforeAll {
    . (Join-Path $PSScriptRoot 'Helpers/TestHelpers.ps1')
    Import-Module (Join-Path $PSScriptRoot '../../out/VirtualDevices/VirtualDevices.psd1') -Force

    # tshark's fields of every frame of a file, one array per frame (tab-separated by tshark).
    function Get-TsharkField([string] $Path, [string[]] $Field) {
        $arguments = @('-n', '-r', $Path, '-T', 'fields', '-E', 'occurrence=f') + ($Field | ForEach-Object { '-e', $_ })
        $lines = & tshark @arguments 2>$null
        $LASTEXITCODE | Should -Be 0
        @($lines | Where-Object { $_ } | ForEach-Object { , ($_ -split "`t") })
    }

    function Get-EpochNanoseconds([string] $Text) {
        $seconds, $fraction = $Text -split '\.'
        [long]$seconds * 1000000000 + [long]($fraction.PadRight(9, '0').Substring(0, 9))
    }

    function New-Arp($Device) {
        New-NetworkFrame -Arp Request -Source $Device.MacAddress -SourceAddress 10.0.0.1 -DestinationAddress 10.0.0.2
    }

    function New-Ping($From, $To, [int] $Sequence = 1) {
        New-NetworkFrame -IcmpEcho -Source $From.MacAddress -Destination $To.MacAddress -SourceAddress 10.0.0.1 -DestinationAddress 10.0.0.2 -Sequence $Sequence -Payload ([byte[]](1..32))
    }

    $script:dir = Join-Path ([IO.Path]::GetTempPath()) "vd-frames-$PID"
    $null = New-Item -ItemType Directory -Path $script:dir -Force
}

AfterAll {
    Get-NetworkCapture | Stop-NetworkCapture -Confirm:$false | Out-Null
    # The suites share one session: the links made here must not be seen by the next suite.
    Get-DeviceStats -Kind Network -ErrorAction Ignore | ForEach-Object Device | Close-NetworkDevice -Force
    Remove-Item -LiteralPath $script:dir -Recurse -Force -ErrorAction SilentlyContinue
}

Describe 'New-NetworkDevice' {
    It 'makes a connected pair, both open in the session with network statistics' {
        $a, $b = New-NetworkDevice
        $a.Peer | Should -Be $b
        $b.Peer | Should -Be $a
        $a.Mtu | Should -Be 1500
        $stats = Get-DeviceStats -Name $a.Name, $b.Name
        $stats.Count | Should -Be 2
        $stats | ForEach-Object { $_.Kind.ToString() | Should -Be 'Network' }
    }

    It 'refuses a name in use with DeviceNameInUse and makes nothing' {
        $null = New-NetworkDevice -Name taken1 -PeerName taken2
        $before = @(Get-DeviceStats -Kind Network).Count
        { New-NetworkDevice -Name taken1 -ErrorAction Stop } | Should -Throw -ErrorId 'DeviceNameInUse,*'
        { New-NetworkDevice -Name fresh1 -PeerName taken2 -ErrorAction Stop } | Should -Throw -ErrorId 'DeviceNameInUse,*'
        @(Get-DeviceStats -Kind Network).Count | Should -Be $before
        @(Get-DeviceStats -Name fresh1 -ErrorAction SilentlyContinue).Count | Should -Be 0
    }
}

Describe 'New-NetworkFrame' {
    BeforeAll { $a, $b = New-NetworkDevice }

    It 'builds an ARP request to the broadcast address' {
        $frame = New-Arp $a
        $frame.Destination.IsBroadcast | Should -BeTrue
        $frame.Protocol | Should -Be 'ARP'
        $frame.Summary | Should -Be 'ARP, Request who-has 10.0.0.2 tell 10.0.0.1'
        $frame.Length | Should -Be 60
    }

    It 'builds an ICMP echo whose dissection (PacketDotNet) finds valid checksums' {
        $frame = New-Ping $a $b -Sequence 9
        $packet = $frame.Dissect()
        $ip = $packet.PayloadPacket
        $ip.ValidIPChecksum | Should -BeTrue
        $ip.PayloadPacket.Sequence | Should -Be 9
        $frame.Dissect().ToString('Verbose') | Should -Match '10\.0\.0\.2'
    }

    It 'tags a raw frame with a VLAN' {
        $frame = New-NetworkFrame -EtherType 0x88B5 -Source $a.MacAddress -VlanId 100 -Payload ([byte[]](1, 2, 3))
        $frame.VlanId | Should -Be 100
        $frame.EtherType | Should -Be 0x88B5
    }

    It 'refuses an IPv6 address in an ARP frame with InvalidArgument' {
        { New-NetworkFrame -Arp Request -Source $a.MacAddress -SourceAddress ::1 -DestinationAddress 10.0.0.2 -ErrorAction Stop } | Should -Throw -ErrorId 'InvalidArgument,*'
    }
}

Describe 'Send-NetworkFrame and Receive-NetworkFrame' {
    BeforeEach { $a, $b = New-NetworkDevice }

    It 'receives on one end what was sent on the other, byte for byte' {
        $sent = New-Arp $a
        $sent | Send-NetworkFrame $a
        $got = Receive-NetworkFrame $b -Count 1 -Timeout 10
        $got.Device | Should -Be $b.Name
        $got.Direction.ToString() | Should -Be 'Inbound'
        [Convert]::ToHexString($got.Data) | Should -Be ([Convert]::ToHexString($sent.Data))
        (Get-DeviceStats -Name $a.Name).TxPackets | Should -Be 1
        (Get-DeviceStats -Name $b.Name).RxPackets | Should -Be 1
    }

    It 'sends raw bytes by device name' {
        $bytes = [byte[]](@(255) * 6 + @(2, 0, 0, 0, 0, 1, 0x88, 0xb5) + @(7) * 46)
        Send-NetworkFrame -Device $a.Name -Data $bytes
        (Receive-NetworkFrame $b.Name -Count 1 -Timeout 10).Data | Should -Be $bytes
    }

    It 'keeps only what the filter asks for' {
        New-Arp $a | Send-NetworkFrame $a
        New-Ping $a $b | Send-NetworkFrame $a
        New-NetworkFrame -EtherType 0x88B5 -Source $a.MacAddress -VlanId 7 | Send-NetworkFrame $a
        $icmp = @(Receive-NetworkFrame $b -Protocol Icmp -Timeout 1)
        $icmp.Count | Should -Be 1
        $icmp[0].Protocol | Should -Be 'ICMP'

        New-Arp $a | Send-NetworkFrame $a
        New-NetworkFrame -EtherType 0x88B5 -Source $a.MacAddress -VlanId 7 | Send-NetworkFrame $a
        @(Receive-NetworkFrame $b -EtherType 0x88B5 -VlanId 7 -Timeout 1).Count | Should -Be 1
    }

    It 'ends quietly at -Timeout when nothing comes' {
        $frames = @(Receive-NetworkFrame $b -Timeout 0.3 -ErrorVariable problems)
        $frames.Count | Should -Be 0
        $problems.Count | Should -Be 0
    }

    It 'stops when a later command has what it needs (StopProcessing), and frees the listener' {
        1..3 | ForEach-Object { New-Ping $a $b -Sequence $_ | Send-NetworkFrame $a }
        # No -Count and no -Timeout: only the pipeline's stop ends it.
        $first = Receive-NetworkFrame $b | Select-Object -First 1
        $first.Summary | Should -Match 'echo request'
        # The listener is free again for the next command.
        4..5 | ForEach-Object { New-Ping $a $b -Sequence $_ | Send-NetworkFrame $a }
        @(Receive-NetworkFrame $b -Protocol Icmp -Timeout 2).Count | Should -BeGreaterOrEqual 2
    }

    It 'takes exactly -Count frames: the others stay queued for the next reader' {
        1..3 | ForEach-Object { New-Ping $a $b -Sequence $_ | Send-NetworkFrame $a }
        $one = Receive-NetworkFrame $b -Count 1 -Timeout 5
        $rest = @(Receive-NetworkFrame $b -Count 2 -Timeout 5)
        $one.Dissect().PayloadPacket.PayloadPacket.Sequence | Should -Be 1
        @($rest | ForEach-Object { $_.Dissect().PayloadPacket.PayloadPacket.Sequence }) | Should -Be 2, 3
    }

    It 'watches beside the listener with -Monitor, and sees sent frames' {
        $listener = $b.OpenListener()
        $bytes = [byte[]](@(255) * 6 + @(2, 0, 0, 0, 0, 1, 0x88, 0xb5) + @(0) * 46)
        # Another thread sends once the tap is open (the device object is shared; the core call needs no session).
        $job = Start-ThreadJob { param($d, $frame) Start-Sleep -Milliseconds 500; $d.WriteAsync([ReadOnlyMemory[byte]]::new($frame)).AsTask().Wait() } -ArgumentList $a, $bytes
        try {
            $frames = @(Receive-NetworkFrame $a -Monitor -Count 1 -Timeout 10)
            $null = $job | Wait-Job -Timeout 10
            $frames.Count | Should -Be 1
            $frames[0].Direction.ToString() | Should -Be 'Outbound'
            $frames[0].Data | Should -Be $bytes
            $listener.Count | Should -Be 1   # the peer's listener still got the frame
        }
        finally {
            $job | Remove-Job -Force
            $listener.Dispose()
        }
    }

    It 'refuses a frame too long for the MTU with FrameSizeInvalid and sends the next' {
        $errors = $null
        $long = [byte[]]::new(1519)
        $ok = [byte[]](@(255) * 6 + @(2, 0, 0, 0, 0, 1, 0x88, 0xb5) + @(0) * 46)
        Send-NetworkFrame -Device $a -Data $long -ErrorVariable errors -ErrorAction SilentlyContinue
        $errors[0].FullyQualifiedErrorId | Should -BeLike 'FrameSizeInvalid,*'
        Send-NetworkFrame -Device $a -Data $ok
        (Get-DeviceStats -Name $a.Name).TxPackets | Should -Be 1
    }

    It 'sends nothing with -WhatIf' {
        New-Arp $a | Send-NetworkFrame $a -WhatIf
        (Get-DeviceStats -Name $a.Name).TxPackets | Should -Be 0
    }

    It 'shows frames one line each within 80 columns' {
        New-Arp $a | Send-NetworkFrame $a
        New-Ping $a $b | Send-NetworkFrame $a
        $text = Receive-NetworkFrame $b -Count 2 -Timeout 5 | Out-String -Width 80
        $lines = $text -split "`r?`n" | Where-Object { $_ }
        $lines | ForEach-Object { $_.Length | Should -BeLessOrEqual 80 }
        $lines[0] | Should -Match 'Time\s+Device\s+Dir\s+Len\s+Proto\s+Summary'
        @($lines | Where-Object { $_ -match ' in \s+60 ARP ' }).Count | Should -Be 1
    }
}

Describe 'Export-NetworkCapture and Import-NetworkCapture' {
    BeforeEach {
        $a, $b = New-NetworkDevice
        New-Arp $a | Send-NetworkFrame $a
        New-Ping $a $b | Send-NetworkFrame $a
        New-NetworkFrame -EtherType 0x88B5 -Source $a.MacAddress -VlanId 100 -Payload ([byte[]]::new(1400)) | Send-NetworkFrame $a
        $frames = Receive-NetworkFrame $b -Count 3 -Timeout 10
        $path = Join-Path $script:dir "export-$([guid]::NewGuid()).pcapng"
    }

    It 'writes a pcapng that tshark reads as the same frames, times and directions' {
        $frames | Export-NetworkCapture $path
        $rows = Get-TsharkField $path 'frame.interface_name', 'frame.time_epoch', 'frame.len', 'frame.packet_flags_direction', '_ws.col.Protocol'
        $rows.Count | Should -Be 3
        for ($i = 0; $i -lt 3; $i++) {
            $rows[$i][0] | Should -Be $b.Name
            Get-EpochNanoseconds $rows[$i][1] | Should -Be $frames[$i].UnixTimeNanoseconds
            [int]$rows[$i][2] | Should -Be $frames[$i].Length
            [Convert]::ToInt32($rows[$i][3], 16) | Should -Be 1   # inbound
            $rows[$i][4] | Should -Be $frames[$i].Protocol
        }
    }

    It 'reads back what it wrote' {
        $frames | Export-NetworkCapture $path
        $back = Import-NetworkCapture $path
        $back.Count | Should -Be 3
        for ($i = 0; $i -lt 3; $i++) {
            [Convert]::ToHexString($back[$i].Data) | Should -Be ([Convert]::ToHexString($frames[$i].Data))
            $back[$i].UnixTimeNanoseconds | Should -Be $frames[$i].UnixTimeNanoseconds
            $back[$i].Direction | Should -Be $frames[$i].Direction
        }
    }

    It 'reads what tshark (editcap) wrote: <Format>' -ForEach @(@{ Format = 'pcap'; Unit = 1000 }, @{ Format = 'nsecpcap'; Unit = 1 }, @{ Format = 'pcapng'; Unit = 1 }) {
        $frames | Export-NetworkCapture $path
        $theirs = "$path.$Format"
        & editcap -F $Format $path $theirs
        $LASTEXITCODE | Should -Be 0
        $back = Import-NetworkCapture $theirs
        $back.Count | Should -Be 3
        for ($i = 0; $i -lt 3; $i++) {
            [Convert]::ToHexString($back[$i].Data) | Should -Be ([Convert]::ToHexString($frames[$i].Data))
            $ns = $frames[$i].UnixTimeNanoseconds
            $back[$i].UnixTimeNanoseconds | Should -Be ($ns - ($ns % $Unit))
        }
    }

    It 'gives the frames before the cut of a file cut short, then CaptureTruncated' {
        $frames | Export-NetworkCapture $path
        $bytes = [IO.File]::ReadAllBytes($path)
        [IO.File]::WriteAllBytes($path, $bytes[0..($bytes.Length - 100)])   # inside the last block
        $errors = $null
        $back = @(Import-NetworkCapture $path -ErrorVariable errors -ErrorAction SilentlyContinue)
        $back.Count | Should -Be 2
        [Convert]::ToHexString($back[1].Data) | Should -Be ([Convert]::ToHexString($frames[1].Data))
        $errors.Count | Should -Be 1
        $errors[0].FullyQualifiedErrorId | Should -BeLike 'CaptureTruncated,*'
        $errors[0].Exception.Frames | Should -Be 2
    }

    It 'never overwrites an existing file without -Force' {
        Set-Content -LiteralPath $path -Value precious
        $errors = $null
        $frames | Export-NetworkCapture $path -ErrorVariable errors -ErrorAction SilentlyContinue
        $errors[0].FullyQualifiedErrorId | Should -BeLike 'CaptureFileExists,*'
        Get-Content -LiteralPath $path | Should -Be 'precious'
        $info = $frames | Export-NetworkCapture $path -Force -PassThru
        $info.FullName | Should -Be $path
        (Import-NetworkCapture $path).Count | Should -Be 3
    }

    It 'writes nothing with -WhatIf' {
        $frames | Export-NetworkCapture $path -WhatIf
        Test-Path -LiteralPath $path | Should -BeFalse
    }
}

Describe 'Start-NetworkCapture, Get-NetworkCapture and Stop-NetworkCapture' {
    It 'captures both ends while frames cross, without taking them from the listener' {
        $a, $b = New-NetworkDevice
        $path = Join-Path $script:dir 'background.pcapng'
        $capture = Start-NetworkCapture -Device $a, $b -Path $path -Name bg
        $capture.Name | Should -Be 'bg'
        1..5 | ForEach-Object { New-Ping $a $b -Sequence $_ | Send-NetworkFrame $a }
        # Other commands go on working: the listener receives every frame.
        @(Receive-NetworkFrame $b -Count 5 -Timeout 10).Count | Should -Be 5
        (Get-NetworkCapture bg).IsRunning | Should -BeTrue
        $stopped = Stop-NetworkCapture bg
        $stopped.Frames | Should -Be 10
        $stopped.Dropped | Should -Be 0
        $stopped.IsRunning | Should -BeFalse
        Get-NetworkCapture | Where-Object Name -eq 'bg' | Should -BeNullOrEmpty

        $rows = Get-TsharkField $path 'frame.interface_name', 'frame.packet_flags_direction', 'icmp.seq'
        $rows.Count | Should -Be 10
        @($rows | Where-Object { $_[0] -eq $a.Name -and [Convert]::ToInt32($_[1], 16) -eq 2 }).Count | Should -Be 5
        @($rows | Where-Object { $_[0] -eq $b.Name -and [Convert]::ToInt32($_[1], 16) -eq 1 }).Count | Should -Be 5
        @($rows | Where-Object { $_[0] -eq $b.Name } | ForEach-Object { [int]$_[2] }) | Should -Be (1..5)
    }

    It 'refuses an existing file without -Force and leaves it untouched' {
        $a, $b = New-NetworkDevice
        $path = Join-Path $script:dir 'kept.pcapng'
        Set-Content -LiteralPath $path -Value keep
        { Start-NetworkCapture $a $path -ErrorAction Stop } | Should -Throw -ErrorId 'CaptureFileExists,*'
        Get-Content -LiteralPath $path | Should -Be 'keep'
        $capture = Start-NetworkCapture $a $path -Force -Direction Outbound
        $capture.Directions.ToString() | Should -Be 'Outbound'
        $capture | Stop-NetworkCapture | Out-Null
    }

    It 'reports an unknown name with ServiceNotFound' {
        { Stop-NetworkCapture nosuch -ErrorAction Stop } | Should -Throw -ErrorId 'ServiceNotFound,*'
        { Get-NetworkCapture nosuch -ErrorAction Stop } | Should -Throw -ErrorId 'ServiceNotFound,*'
    }
}

Describe 'Close-NetworkDevice' {
    It 'closes devices piped to it, by object and by name, and frees their names' {
        $a, $b = New-NetworkDevice -Name closea -PeerName closeb
        $a | Close-NetworkDevice -Force
        Close-NetworkDevice closeb -Force
        Get-DeviceStats -Name closea, closeb -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
        $again, $peer = New-NetworkDevice -Name closea -PeerName closeb
        $again.Name | Should -Be 'closea'
        $again, $peer | Close-NetworkDevice -Force
    }

    It 'refuses a block device and an unknown name with typed errors, and honours -WhatIf' {
        $disk = New-BlockDevice -Size 1MB -Name notnet
        Close-NetworkDevice notnet -Force -ErrorVariable refused -ErrorAction SilentlyContinue
        $refused[0].CategoryInfo.Category | Should -Be 'InvalidArgument'
        Close-NetworkDevice nosuchdevice -Force -ErrorVariable missing -ErrorAction SilentlyContinue
        $missing[0].FullyQualifiedErrorId | Should -BeLike 'DeviceNotFound,*'
        Close-BlockDevice $disk -Confirm:$false
        $a, $b = New-NetworkDevice -Name whatifa -PeerName whatifb
        $a | Close-NetworkDevice -WhatIf
        (Get-DeviceStats -Name whatifa).Device | Should -Be 'whatifa'
        $a, $b | Close-NetworkDevice -Force
    }
}
