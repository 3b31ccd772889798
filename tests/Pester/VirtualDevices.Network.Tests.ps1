#Requires -Version 7.4
# Pester 5 tests of the virtual interface and switch cmdlets: Start-VmnetInterface and Stop-VmnetInterface (TAP on
# Linux), Connect-NetworkDevice, Disconnect-NetworkDevice and Get-NetworkSwitch, with the Linux kernel as the peer.
# Every interface with an address is made inside network namespaces these tests create (vdtest-RANDOM) and always
# delete; only private addresses (10.0.0.0/8) are used there. They need root; without it they are skipped.
# Run with: Invoke-Pester ./tests/Pester/VirtualDevices.Network.Tests.ps1 (after `dotnet build src/VirtualDevices.PowerShell`).

BeforeDiscovery {
    $script:canRun = $IsLinux -and (Test-Path /dev/net/tun) -and ((id -u) -eq '0') -and (Get-Command ip -ErrorAction Ignore)
    $script:hasPing = [bool](Get-Command ping -ErrorAction Ignore)
    $script:hasNft = [bool](Get-Command nft -ErrorAction Ignore)
}

BeforeAll {
    . (Join-Path $PSScriptRoot 'Helpers/TestHelpers.ps1')
    Import-Module (Join-Path $PSScriptRoot '../../out/VirtualDevices/VirtualDevices.psd1') -Force

    function New-TestNamespace {
        $name = 'vdtest-' + [Convert]::ToHexString([Security.Cryptography.RandomNumberGenerator]::GetBytes(4)).ToLowerInvariant()
        ip netns add $name
        # IPv6 off: the kernel then sends only what a test provokes (no solicitations that would be flooded).
        ip netns exec $name sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
        ip -n $name link set lo up
        $script:namespaces.Add($name)
        $name
    }

    function Get-KernelCounter([string] $Namespace, [string] $Interface, [string] $Counter) {
        [long](ip netns exec $Namespace cat "/sys/class/net/$Interface/statistics/$Counter")
    }

    function New-ArpRequest([VirtualDevices.Network.MacAddress] $Sender, [string] $SenderIp, [string] $TargetIp) {
        $frame = [byte[]]::new(60)
        0..5 | ForEach-Object { $frame[$_] = 0xff }
        $mac = [byte[]]($Sender.ToString().Split(':') | ForEach-Object { [Convert]::ToByte($_, 16) })
        $mac.CopyTo($frame, 6)
        $frame[12] = 0x08; $frame[13] = 0x06; $frame[15] = 1; $frame[16] = 0x08; $frame[18] = 6; $frame[19] = 4; $frame[21] = 1
        $mac.CopyTo($frame, 22)
        [Net.IPAddress]::Parse($SenderIp).GetAddressBytes().CopyTo($frame, 28)
        [Net.IPAddress]::Parse($TargetIp).GetAddressBytes().CopyTo($frame, 38)
        , $frame
    }

    # Waits (at most 20 s) for a frame the predicate accepts and returns a copy of it.
    function Wait-Frame([VirtualDevices.Network.FrameReader] $Reader, [scriptblock] $Where) {
        $deadline = [DateTime]::UtcNow.AddSeconds(20)
        while ([DateTime]::UtcNow -lt $deadline) {
            $cts = [Threading.CancellationTokenSource]::new([TimeSpan]::FromSeconds(1))
            try { $null = $Reader.WaitToReadAsync($cts.Token).AsTask().GetAwaiter().GetResult() } catch [OperationCanceledException] { } finally { $cts.Dispose() }
            $lease = [VirtualDevices.Network.FrameLease]::new()
            while ($Reader.TryRead([ref] $lease)) {
                $copy = $lease.Data.ToArray(); $lease.Dispose()
                if (& $Where $copy) { return , $copy }
            }
        }
        throw 'no matching frame within 20 s'
    }

    $script:namespaces = [Collections.Generic.List[string]]::new()
}

AfterAll {
    Get-NetworkSwitch -ErrorAction Ignore | ForEach-Object { $_.Ports } | ForEach-Object { Disconnect-NetworkDevice $_.DeviceName -Confirm:$false -ErrorAction Ignore }
    Get-DeviceStats -ErrorAction Ignore | Where-Object Driver -eq 'tap' | Stop-VmnetInterface -Force -ErrorAction Ignore
    # The suites share one session: whatever network device is left (in-memory links of the switch tests) goes too.
    Get-DeviceStats -Kind Network -ErrorAction Ignore | ForEach-Object Device | Close-NetworkDevice -Force -ErrorAction Ignore
    foreach ($ns in $script:namespaces) { ip netns del $ns 2>$null }
}

Describe 'Start-VmnetInterface and Stop-VmnetInterface (Linux TAP)' -Skip:(-not $canRun) {
    BeforeAll {
        $ns = New-TestNamespace
        $subnet = '10.{0}.{1}' -f (Get-Random -Minimum 1 -Maximum 250), (Get-Random -Maximum 255)
    }

    AfterEach {
        Get-DeviceStats -ErrorAction Ignore | Where-Object Driver -eq 'tap' | Stop-VmnetInterface -Force -ErrorAction Ignore
    }

    It 'makes a TAP in a namespace with its name, MAC, MTU and host address, registered in the session' {
        $tap = Start-VmnetInterface -Namespace $ns -Name vdpester0 -MacAddress 02:00:5e:00:00:10 -Mtu 1400 -HostAddress "$subnet.1/24"

        $tap.GetType().FullName | Should -Be 'VirtualDevices.Network.Tap.TapDevice'
        $tap.Name | Should -Be 'vdpester0'
        $tap.MacAddress.ToString() | Should -Be '02:00:5e:00:00:10'
        $tap.Mtu | Should -Be 1400
        $tap.Mode | Should -Be 'Host'
        $tap.Namespace | Should -Be $ns
        (Get-DeviceStats -Name vdpester0).Driver | Should -Be 'tap'
        ip -n $ns -o addr show dev vdpester0 | Should -Match ([regex]::Escape("inet $subnet.1/24"))
        ip -n $ns -o link show vdpester0 | Should -Match 'mtu 1400'
        ip -n $ns -o link show vdpester0 | Should -Match '02:00:5e:00:00:10'
    }

    It 'carries frames: the kernel answers an ARP request, and Get-DeviceStats matches the kernel''s counters' {
        $tap = Start-VmnetInterface -Namespace $ns -Name vdpester1 -HostAddress "$subnet.1/24"
        $guest = [VirtualDevices.Network.MacAddress]::CreateRandom()
        $reader = $tap.OpenListener()
        try {
            $tap.WriteAsync([ReadOnlyMemory[byte]](New-ArpRequest $guest "$subnet.2" "$subnet.1")).AsTask().GetAwaiter().GetResult()
            $reply = Wait-Frame $reader { param($f) $f[12] -eq 8 -and $f[13] -eq 6 -and $f[21] -eq 2 }
        }
        finally { $reader.Dispose() }

        [VirtualDevices.Network.MacAddress]::Parse((($reply[22..27] | ForEach-Object { $_.ToString('x2') }) -join ':')) | Should -Be $tap.MacAddress
        [VirtualDevices.Network.MacAddress]::Parse((($reply[0..5] | ForEach-Object { $_.ToString('x2') }) -join ':')) | Should -Be $guest
        $stats = Get-DeviceStats -Name vdpester1
        $stats.TxPackets | Should -Be 1
        $stats.RxPackets | Should -Be (Get-KernelCounter $ns vdpester1 tx_packets)
        $stats.RxBytes | Should -Be (Get-KernelCounter $ns vdpester1 tx_bytes)
        $stats.TxPackets | Should -Be (Get-KernelCounter $ns vdpester1 rx_packets)
        $stats.TxBytes | Should -Be (Get-KernelCounter $ns vdpester1 rx_bytes)
    }

    It 'refuses a frame over the MTU with FrameSizeInvalid' {
        $tap = Start-VmnetInterface -Namespace $ns -Name vdpester2 -Mtu 1280
        $thrown = { $tap.WriteAsync([ReadOnlyMemory[byte]][byte[]]::new(1280 + 18 + 1)).AsTask().GetAwaiter().GetResult() } | Should -Throw -PassThru
        $thrown.Exception.InnerException | Should -BeOfType ([VirtualDevices.FrameSizeException])
        $thrown.Exception.InnerException.ErrorId | Should -Be 'FrameSizeInvalid'
        (Get-DeviceStats -Name vdpester2).TxErrors | Should -Be 1
    }

    It 'reports an interface deleted underneath as a disconnected device, and still stops it' {
        $tap = Start-VmnetInterface -Namespace $ns -Name vdpester3
        ip -n $ns link del vdpester3
        $deadline = [DateTime]::UtcNow.AddSeconds(10)
        while ($tap.IsConnected -and [DateTime]::UtcNow -lt $deadline) { Start-Sleep -Milliseconds 20 }

        $tap.IsConnected | Should -BeFalse
        $thrown = { $tap.WriteAsync([ReadOnlyMemory[byte]][byte[]]::new(60)).AsTask().GetAwaiter().GetResult() } | Should -Throw -PassThru
        $thrown.Exception.InnerException | Should -BeOfType ([VirtualDevices.DeviceDisconnectedException])
        Stop-VmnetInterface vdpester3 -Force -ErrorAction Stop
        Get-DeviceStats -Name vdpester3 -ErrorAction Ignore | Should -BeNullOrEmpty
    }

    It 'stops devices given by name, by object and from statistics on the pipeline' {
        $a = Start-VmnetInterface -Namespace $ns -Name vdpester4
        $null = Start-VmnetInterface -Namespace $ns -Name vdpester5
        $null = Start-VmnetInterface -Namespace $ns -Name vdpester6
        $a | Stop-VmnetInterface -Force
        'vdpester5' | Stop-VmnetInterface -Force
        Get-DeviceStats -Name vdpester6 | Stop-VmnetInterface -Force

        Get-DeviceStats | Where-Object Device -like 'vdpester[456]' | Should -BeNullOrEmpty
        ip -n $ns -o link show | Should -Not -Match 'vdpester[456]'
    }

    It '-WhatIf makes nothing, and Stop-VmnetInterface -WhatIf stops nothing' {
        Start-VmnetInterface -Namespace $ns -Name vdpester7 -WhatIf | Should -BeNullOrEmpty
        ip -n $ns -o link show | Should -Not -Match 'vdpester7'
        $null = Start-VmnetInterface -Namespace $ns -Name vdpester8
        Stop-VmnetInterface vdpester8 -WhatIf
        (Get-DeviceStats -Name vdpester8).Device | Should -Be 'vdpester8'
    }

    It 'gives typed errors: <Case>' -ForEach @(
        @{ Case = 'a name the kernel refuses'; Script = { Start-VmnetInterface -Namespace $ns -Name 'a/b' }; Id = 'NetworkInterfaceNameInvalid' }
        @{ Case = 'a bridge that does not exist'; Script = { Start-VmnetInterface -Namespace $ns -Mode Bridged -BridgeName vdnobridge }; Id = 'NetworkBridgeNotFound' }
        @{ Case = 'Shared mode without a host address'; Script = { Start-VmnetInterface -Namespace $ns -Mode Shared }; Id = 'InvalidArgument' }
        @{ Case = 'a namespace that does not exist'; Script = { Start-VmnetInterface -Namespace vdtest-nonexistent }; Id = 'NetworkNamespaceNotFound' }
        @{ Case = 'a MAC address that does not parse'; Script = { Start-VmnetInterface -Namespace $ns -MacAddress nope }; Id = 'InvalidFormat' }
    ) {
        $record = $null
        try { $ErrorActionPreference = 'Stop'; & $Script } catch { $record = $_ }
        $record | Should -Not -BeNullOrEmpty
        $record.FullyQualifiedErrorId | Should -BeLike "$Id,*"
        ip -n $ns -o link show | Should -Not -Match 'vdtap'
    }

    It 'a name the session already uses makes no interface, even with -Persistent' {
        $disk = New-BlockDevice -Size 1MB -Name vdpestertaken
        try {
            $err = $null
            Start-VmnetInterface -Namespace $ns -Name vdpestertaken -Persistent -ErrorVariable err -ErrorAction SilentlyContinue |
                Should -BeNullOrEmpty
            $err[0].FullyQualifiedErrorId | Should -BeLike 'DeviceNameInUse,*'
            # Before the name was reserved first, the persistent interface was made, then closed, and stayed.
            ip -n $ns -o link show | Should -Not -Match 'vdpestertaken'
            (Get-BlockDevice vdpestertaken).Name | Should -Be 'vdpestertaken'
        }
        finally { $disk | Close-BlockDevice -Force }
    }

    It 'refuses to stop a device that is not a virtual interface' {
        $disk = New-BlockDevice -Size 1MB -Name vdnotatap
        try {
            $err = $null
            Stop-VmnetInterface vdnotatap -Force -ErrorVariable err -ErrorAction SilentlyContinue
            $err[0].FullyQualifiedErrorId | Should -BeLike 'InvalidArgument,*'
            (Get-BlockDevice vdnotatap).Name | Should -Be 'vdnotatap'
        }
        finally { $disk | Close-BlockDevice -Force }
    }

    It 'Bridged mode attaches the TAP to an existing bridge' {
        ip -n $ns link add vdbr0 type bridge
        $tap = Start-VmnetInterface -Namespace $ns -Mode Bridged -BridgeName vdbr0 -Name vdpester9
        $tap.BridgeName | Should -Be 'vdbr0'
        ip -n $ns -o link show vdpester9 | Should -Match 'master vdbr0'
    }

    It 'Shared mode adds its NAT table and forwarding in the namespace only, and removes them at stop' -Skip:(-not $hasNft) {
        $hostForwarding = Get-Content /proc/sys/net/ipv4/ip_forward
        $tap = Start-VmnetInterface -Namespace $ns -Mode Shared -Name vdshared -HostAddress "$subnet.1/24"

        $tap.NatTable | Should -Be 'virtualdevices_vdshared'
        ip netns exec $ns nft list table ip virtualdevices_vdshared | Should -Contain "		ip saddr $subnet.0/24 oifname != `"vdshared`" masquerade"
        ip netns exec $ns cat /proc/sys/net/ipv4/ip_forward | Should -Be '1'
        Get-Content /proc/sys/net/ipv4/ip_forward | Should -Be $hostForwarding

        $tap | Stop-VmnetInterface -Force
        ip netns exec $ns nft list tables | Should -Not -Match 'virtualdevices_vdshared'
        ip netns exec $ns cat /proc/sys/net/ipv4/ip_forward | Should -Be '0'
    }
}

Describe 'Connect-NetworkDevice, Get-NetworkSwitch and Disconnect-NetworkDevice' -Skip:(-not $canRun) {
    BeforeAll {
        $left = New-TestNamespace
        $right = New-TestNamespace
        $third = New-TestNamespace
        $subnet = '10.{0}.{1}' -f (Get-Random -Minimum 1 -Maximum 250), (Get-Random -Maximum 255)
        $l = Start-VmnetInterface -Namespace $left -Name vdswl -HostAddress "$subnet.1/24"
        $r = Start-VmnetInterface -Namespace $right -Name vdswr -HostAddress "$subnet.2/24"
        $t = Start-VmnetInterface -Namespace $third -Name vdswt
    }

    AfterAll {
        Get-DeviceStats -ErrorAction Ignore | Where-Object Device -in 'vdswl', 'vdswr', 'vdswt' | Stop-VmnetInterface -Force
    }

    It 'joins devices to a switch and writes one port per device' {
        $ports = Connect-NetworkDevice -Device $l, $r, $t -Switch vdlab

        $ports | Should -HaveCount 3
        $ports[0].GetType().FullName | Should -Be 'VirtualDevices.Network.Switch.SwitchPort'
        $ports.DeviceName | Should -Be @('vdswl', 'vdswr', 'vdswt')
        (Get-NetworkSwitch vdlab).Ports.Count | Should -Be 3
    }

    It 'two namespaces ping each other through it; once learned, the third port is sent no more frames' -Skip:(-not $hasPing) {
        # The switch is the two namespaces' only link.
        (ip netns exec $left ping -c 2 -i 0.2 -W 5 "$subnet.2") -join "`n" | Should -Match '2 packets transmitted, 2 received'
        $LASTEXITCODE | Should -Be 0
        $before = (Get-NetworkSwitch vdlab -Port | Where-Object DeviceName -eq 'vdswt').TxFrames
        $kernelBefore = Get-KernelCounter $third vdswt rx_packets

        ip netns exec $left ping -c 5 -i 0.2 -W 5 "$subnet.2" | Out-Null
        $LASTEXITCODE | Should -Be 0
        ip netns exec $right ping -c 5 -i 0.2 -W 5 "$subnet.1" | Out-Null
        $LASTEXITCODE | Should -Be 0

        $ports = Get-NetworkSwitch vdlab -Port
        $thirdPort = $ports | Where-Object DeviceName -eq 'vdswt'
        $thirdPort.TxFrames | Should -Be $before
        $thirdPort.Flooded | Should -Be $thirdPort.TxFrames
        Get-KernelCounter $third vdswt rx_packets | Should -Be $kernelBefore
        ($ports | Where-Object DeviceName -eq 'vdswr').TxFrames | Should -BeGreaterOrEqual 12
        ($ports | Measure-Object TxDrops -Sum).Sum | Should -Be 0
        $table = Get-NetworkSwitch vdlab -AddressTable
        ($table | Where-Object DeviceName -eq 'vdswl').MacAddress | Should -Contain $l.MacAddress
        ($table | Where-Object DeviceName -eq 'vdswr').MacAddress | Should -Contain $r.MacAddress
    }

    It 'refuses a device that is already a port' {
        $err = $null
        Connect-NetworkDevice vdswl -Switch vdother -ErrorVariable err -ErrorAction SilentlyContinue
        $err[0].FullyQualifiedErrorId | Should -BeLike 'NetworkSwitchPortInUse,*'
    }

    It 'disconnects ports; the last one gone, the switch stops' {
        Disconnect-NetworkDevice vdswt
        (Get-NetworkSwitch vdlab).Ports.DeviceName | Should -Be @('vdswl', 'vdswr')
        $t.IsConnected | Should -BeTrue

        Get-NetworkSwitch vdlab -Port | Disconnect-NetworkDevice
        Get-NetworkSwitch -ErrorAction Ignore | Where-Object Name -eq 'vdlab' | Should -BeNullOrEmpty
        $err = $null
        Disconnect-NetworkDevice vdswl -ErrorVariable err -ErrorAction SilentlyContinue
        $err[0].FullyQualifiedErrorId | Should -BeLike 'NetworkSwitchNotFound,*'
    }

    It 'a port whose interface is stopped leaves its switch' {
        $null = Connect-NetworkDevice $l, $t -Switch vdlab2
        Stop-VmnetInterface vdswt -Force
        $deadline = [DateTime]::UtcNow.AddSeconds(10)
        while ((Get-NetworkSwitch vdlab2).Ports.Count -gt 1 -and [DateTime]::UtcNow -lt $deadline) { Start-Sleep -Milliseconds 20 }
        (Get-NetworkSwitch vdlab2).Ports.DeviceName | Should -Be @('vdswl')
    }
}
