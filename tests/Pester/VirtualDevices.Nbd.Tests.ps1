#Requires -Version 7.4
# Pester 5 tests of the NBD cmdlets: Connect-/Disconnect-NbdDevice, Get-NbdExport, Start-/Stop-/Get-NbdServer,
# Get-BlockDeviceAllocation, and the one-shot -Uri of Read-/Write-BlockDevice. The module's own server is the peer of
# the client cmdlets; nbdkit and nbdinfo, where they are installed, are real peers of the client and of the server.
# Run with: Invoke-Pester ./tests/Pester (after `dotnet build src/VirtualDevices.PowerShell`).

BeforeDiscovery {
    $nbdkit = [bool](Get-Command nbdkit -CommandType Application -ErrorAction SilentlyContinue)
    $nbdinfo = [bool](Get-Command nbdinfo -CommandType Application -ErrorAction SilentlyContinue)
}

BeforeAll {
    . (Join-Path $PSScriptRoot 'Helpers/TestHelpers.ps1')
    Import-Module (Join-Path $PSScriptRoot '../../out/VirtualDevices/VirtualDevices.psd1') -Force
    Get-BlockDevice | Where-Object Driver -eq 'nbd' | Disconnect-NbdDevice -Confirm:$false
    Get-NbdServer | Stop-NbdServer -Confirm:$false
    Get-BlockDevice | Close-BlockDevice -Confirm:$false

    # Client devices first (so that servers have no client to wait for), then the test's servers, then its devices;
    # the shared peers (the RAM disk src and the servers unixsrv and tcpsrv) stay.
    function Remove-TestObjects {
        Get-BlockDevice | Where-Object Driver -eq 'nbd' | Disconnect-NbdDevice -Confirm:$false
        Get-NbdServer | Where-Object Name -notin 'unixsrv', 'tcpsrv' | Stop-NbdServer -Confirm:$false
        Get-BlockDevice | Where-Object Name -ne 'src' | Close-BlockDevice -Confirm:$false
    }

    function Get-NbdDeviceCount { @(Get-BlockDevice | Where-Object Driver -eq 'nbd').Count }

    # The peer of the client tests: a 4 MiB RAM disk whose first MiB holds known bytes, served on a unix socket and
    # on a TCP port of 127.0.0.1.
    $Pattern = New-RandomBytes 1MB 7
    $PatternHash = Get-BytesHash $Pattern
    New-BlockDevice -Size 4MB -Name src | Out-Null
    Write-BlockDevice -Device src -Data $Pattern -Force
    $Sock = Join-Path $TestDrive 'nbd.sock'
    $UnixServer = Start-NbdServer -Device src -SocketPath $Sock -Name unixsrv
    $Port = Get-FreePort
    $TcpServer = Start-NbdServer -Device src -Port $Port -Name tcpsrv
    $UnixUri = "nbd+unix:///?socket=$Sock"
    $TcpUri = "nbd://127.0.0.1:$Port/src"
}

AfterAll {
    Get-BlockDevice | Where-Object Driver -eq 'nbd' | Disconnect-NbdDevice -Confirm:$false
    Get-NbdServer | Stop-NbdServer -Confirm:$false
    Get-BlockDevice | Close-BlockDevice -Confirm:$false
}

Describe 'The shared peers' {
    It 'listen on the unix socket and on 127.0.0.1' {
        $UnixServer.IsRunning | Should -BeTrue
        $UnixServer.UnixSocketPath | Should -BeExactly $Sock
        $UnixServer.TcpEndPoint | Should -BeNullOrEmpty
        Test-Path -LiteralPath $Sock | Should -BeTrue
        $TcpServer.IsRunning | Should -BeTrue
        $TcpServer.TcpEndPoint.Address.ToString() | Should -BeExactly '127.0.0.1'
        $TcpServer.TcpEndPoint.Port | Should -Be $Port
        $TcpServer.UnixSocketPath | Should -BeNullOrEmpty
    }
}

Describe 'Connect-NbdDevice' {
    AfterEach {
        Remove-TestObjects
    }

    It 'connects by -Uri to the default export of a unix socket (nbd+unix:///?socket=...)' {
        $device = Connect-NbdDevice -Uri $UnixUri

        $device.GetType().FullName | Should -BeExactly 'VirtualDevices.Nbd.Client.NbdBlockDevice'
        $device.Driver | Should -BeExactly 'nbd'
        $device.Name | Should -MatchExactly '^nbd\d+$'
        $device.IsConnected | Should -BeTrue
        $device.ExportName | Should -BeExactly ''
        $device.ExportSize | Should -Be 4MB
        $device.Location | Should -BeExactly $UnixUri
        $device.Info.SectorSize | Should -Be 512
        $device.Info.SectorCount | Should -Be 8192
        $device.Info.ReadOnly | Should -BeFalse
        (Get-BlockDevice -Name $device.Name).Location | Should -BeExactly $UnixUri
    }

    It 'connects by -Uri over TCP to a named export (nbd://127.0.0.1:port/src), the URI being positional' {
        $device = Connect-NbdDevice $TcpUri

        $device.ExportName | Should -BeExactly 'src'
        $device.ExportSize | Should -Be 4MB
        $device.Location | Should -BeExactly $TcpUri
        $device.IsTls | Should -BeFalse
    }

    It 'connects by -SocketPath, with -ExportName and -Name' {
        $device = Connect-NbdDevice -SocketPath $Sock -ExportName src -Name remote

        $device.Name | Should -BeExactly 'remote'
        $device.ExportName | Should -BeExactly 'src'
        (Get-BlockDevice -Name remote).Driver | Should -BeExactly 'nbd'
    }

    It 'connects by -Server and -Port' {
        $device = Connect-NbdDevice -Server 127.0.0.1 -Port $Port -ExportName src -Name tcp1

        $device.Name | Should -BeExactly 'tcp1'
        $device.Info.SectorCount | Should -Be 8192
    }

    It 'lets -ExportName override the export name of the URI' {
        $device = Connect-NbdDevice -Uri "nbd://127.0.0.1:$Port/nosuch" -ExportName src
        $device.ExportName | Should -BeExactly 'src'
    }

    It 'reads what the served device holds (same checksum)' {
        $device = Connect-NbdDevice -Uri $UnixUri
        $data = Join-BlockData @(Read-BlockDevice -Device $device -Count 2048 -SectorsPerObject 512)

        $data.Length | Should -Be 1MB
        Get-BytesHash $data | Should -Be $PatternHash
    }

    It 'writes through to the served device (same checksum on both sides)' {
        $device = Connect-NbdDevice -Uri $TcpUri
        $bytes = New-RandomBytes 64KB 11
        Write-BlockDevice -Device $device -Sector 4096 -Data $bytes -Force

        $remote = Join-BlockData @(Read-BlockDevice -Device $device -Sector 4096 -Count 128 -SectorsPerObject 128)
        $local = Join-BlockData @(Read-BlockDevice -Device src -Sector 4096 -Count 128 -SectorsPerObject 128)
        Get-BytesHash $remote | Should -Be (Get-BytesHash $bytes)
        Get-BytesHash $local | Should -Be (Get-BytesHash $bytes)
    }

    It 'opens several connections with -Connections when the server allows multi-conn' {
        $device = Connect-NbdDevice -Uri $UnixUri -Connections 4

        $device.ConnectionCount | Should -Be 4
        $device.TransmissionFlags.HasFlag([VirtualDevices.Nbd.NbdTransmissionFlags]::CanMultiConnection) | Should -BeTrue
        $data = Join-BlockData @(Read-BlockDevice -Device $device -Count 2048 -SectorsPerObject 64)
        Get-BytesHash $data | Should -Be $PatternHash
    }

    It 'opens one connection by default' {
        (Connect-NbdDevice -Uri $UnixUri).ConnectionCount | Should -Be 1
    }

    It 'is described by Get-BlockDeviceInfo with the features the server advertised' {
        $device = Connect-NbdDevice -Uri $UnixUri -Name info1
        $info = Get-BlockDeviceInfo -Device info1

        $info.Device | Should -BeExactly 'info1'
        $info.Driver | Should -BeExactly 'nbd'
        $info.Location | Should -BeExactly $UnixUri
        $info.SizeBytes | Should -Be 4MB
        $info.SectorSize | Should -Be 512
        $info.ReadOnly | Should -BeFalse
        $info.CanFlush | Should -BeTrue
        $info.CanTrim | Should -BeTrue
        $info.CanWriteZeroes | Should -BeTrue
        $info.Features.HasFlag([VirtualDevices.Block.BlockFeatures]::AllocationStatus) | Should -BeTrue
        $info.Features.HasFlag([VirtualDevices.Block.BlockFeatures]::MultiConnection) | Should -BeTrue
        $info.IsConnected | Should -BeTrue
        $device.IsConnected | Should -BeTrue
    }

    It 'counts its reads and writes in Get-DeviceStats' {
        $device = Connect-NbdDevice -Uri $UnixUri -Name stats1
        Read-BlockDevice -Device stats1 -Count 16 -SectorsPerObject 8 | Out-Null
        Write-BlockDevice -Device stats1 -Sector 6000 -Data ([byte[]]::new(512)) -Force

        $stats = Get-DeviceStats -Name stats1
        $stats.Device | Should -BeExactly 'stats1'
        $stats.ReadOps | Should -Be 2
        $stats.ReadBytes | Should -Be 8192
        $stats.WriteOps | Should -Be 1
        $stats.WriteBytes | Should -Be 512
        $stats.Errors | Should -Be 0
        $device.Name | Should -BeExactly 'stats1'
    }

    It 'refuses a -Name already used in the session with DeviceNameInUse, before connecting' {
        { Connect-NbdDevice -SocketPath $Sock -Name src -ErrorAction Stop } |
            Should -Throw -ErrorId 'DeviceNameInUse,VirtualDevices.PowerShell.Commands.Nbd.ConnectNbdDeviceCommand'
        (Get-BlockDevice -Name src).Driver | Should -BeExactly 'memory'
        Get-NbdDeviceCount | Should -Be 0
    }

    It 'fails with ConnectionRefused when nothing listens on the port' {
        $free = Get-FreePort
        { Connect-NbdDevice -Server 127.0.0.1 -Port $free -ConnectTimeout 10 -ErrorAction Stop } |
            Should -Throw -ErrorId 'ConnectionRefused,VirtualDevices.PowerShell.Commands.Nbd.ConnectNbdDeviceCommand'
        Get-NbdDeviceCount | Should -Be 0
    }

    It 'fails with SocketNotFound when the unix socket does not exist' {
        { Connect-NbdDevice -SocketPath (Join-Path $TestDrive 'none.sock') -ConnectTimeout 10 -ErrorAction Stop } |
            Should -Throw -ErrorId 'SocketNotFound,*'
    }

    It 'fails with DeviceNotFound for an export the server does not have (<How>)' -ForEach @(
        @{ How = 'in the URI'; Use = 'Uri' }
        @{ How = 'with -ExportName'; Use = 'ExportName' }
    ) {
        if ($Use -eq 'Uri') {
            { Connect-NbdDevice -Uri "nbd+unix:///nosuch?socket=$Sock" -ErrorAction Stop } | Should -Throw -ErrorId 'DeviceNotFound,*'
        } else {
            { Connect-NbdDevice -Server 127.0.0.1 -Port $Port -ExportName nosuch -ErrorAction Stop } | Should -Throw -ErrorId 'DeviceNotFound,*'
        }
        Get-NbdDeviceCount | Should -Be 0
    }

    It 'writes a non-terminating error, with the id as ErrorId, and no device' {
        $free = Get-FreePort
        $device = Connect-NbdDevice -Server 127.0.0.1 -Port $free -ConnectTimeout 10 -ErrorAction SilentlyContinue -ErrorVariable failures

        $device | Should -BeNullOrEmpty
        $failures.Count | Should -Be 1
        $failures[0].Exception.ErrorId | Should -BeExactly 'ConnectionRefused'
        $failures[0].CategoryInfo.Category | Should -Be 'ConnectionError'
    }

    It 'refuses a URI that is not an NBD URI, without connecting' {
        { Connect-NbdDevice -Uri 'http://127.0.0.1/disk' -ErrorAction Stop } |
            Should -Throw -ErrorId 'InvalidFormat,VirtualDevices.PowerShell.Commands.Nbd.ConnectNbdDeviceCommand'
        { Connect-NbdDevice -Uri 'nbd+unix:///disk' -ErrorAction Stop } |
            Should -Throw -ErrorId 'InvalidFormat,VirtualDevices.PowerShell.Commands.Nbd.ConnectNbdDeviceCommand'
        Get-NbdDeviceCount | Should -Be 0
    }

    It 'validates -Connections (1 to 16) and -Name' {
        { Connect-NbdDevice -Uri $UnixUri -Connections 0 } | Should -Throw -ErrorId 'ParameterArgumentValidationError*'
        { Connect-NbdDevice -Uri $UnixUri -Connections 17 } | Should -Throw -ErrorId 'ParameterArgumentValidationError*'
        { Connect-NbdDevice -Uri $UnixUri -Name 'bad name' } | Should -Throw -ErrorId 'ParameterArgumentValidationError*'
    }

    It 'is shown with the table view of block devices' {
        $device = Connect-NbdDevice -Uri $UnixUri -Name view1
        $text = $device | Format-Table | Out-String -Width 250

        $text | Should -Match 'Name'
        $text | Should -Match 'Driver'
        $text | Should -Match 'Location'
        $text | Should -Match 'view1'
        $text | Should -Match 'nbd\+unix'
    }
}

Describe 'Disconnect-NbdDevice' {
    AfterEach {
        Remove-TestObjects
    }

    It 'disconnects a device and removes it from the session' {
        $device = Connect-NbdDevice -Uri $UnixUri -Name gone1
        Disconnect-NbdDevice -Device $device

        $device.IsConnected | Should -BeFalse
        Get-BlockDevice -Name gone1 -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
        { Read-BlockDevice -Device $device -Count 1 -ErrorAction Stop } | Should -Throw -ErrorId 'DeviceDisconnected,*'
    }

    It 'takes names, positionally' {
        $device = Connect-NbdDevice -Uri $UnixUri -Name gone2
        Disconnect-NbdDevice gone2
        $device.IsConnected | Should -BeFalse
    }

    It 'takes devices from the pipeline' {
        Connect-NbdDevice -Uri $UnixUri -Name p1 | Out-Null
        Connect-NbdDevice -Uri $TcpUri -Name p2 | Out-Null
        Get-BlockDevice | Where-Object Driver -eq 'nbd' | Disconnect-NbdDevice

        Get-NbdDeviceCount | Should -Be 0
        (Get-BlockDevice -Name src).IsConnected | Should -BeTrue
    }

    It 'lets the server see the client leave' {
        $server = Start-NbdServer -Device src -SocketPath (Join-Path $TestDrive 'leave.sock') -Name leave
        $device = Connect-NbdDevice -SocketPath $server.UnixSocketPath
        Wait-Condition { $server.ConnectionCount -eq 1 } | Should -BeTrue

        Disconnect-NbdDevice -Device $device
        Wait-Condition { $server.ConnectionCount -eq 0 } | Should -BeTrue
        $server.GetStatistics().ProtocolViolations | Should -Be 0
    }

    It 'refuses a device that is not an NBD device with InvalidArgument, and leaves it open' {
        { Disconnect-NbdDevice -Device src -ErrorAction Stop } |
            Should -Throw -ErrorId 'InvalidArgument,VirtualDevices.PowerShell.Commands.Nbd.DisconnectNbdDeviceCommand'
        (Get-BlockDevice -Name src).IsConnected | Should -BeTrue
    }

    It 'goes on with the next device after refusing one' {
        $device = Connect-NbdDevice -Uri $UnixUri -Name mixed1
        Disconnect-NbdDevice -Device src, mixed1 -ErrorAction SilentlyContinue -ErrorVariable failures

        $failures.Count | Should -Be 1
        $device.IsConnected | Should -BeFalse
        (Get-BlockDevice -Name src).IsConnected | Should -BeTrue
    }

    It 'disconnects nothing with -WhatIf' {
        $device = Connect-NbdDevice -Uri $UnixUri -Name kept1
        Disconnect-NbdDevice -Device kept1 -WhatIf

        $device.IsConnected | Should -BeTrue
        (Get-BlockDevice -Name kept1).Name | Should -BeExactly 'kept1'
    }

    It 'reports a name that no device has as a non-terminating DeviceNotFound error' {
        Disconnect-NbdDevice -Device nosuchdevice -ErrorAction SilentlyContinue -ErrorVariable failure
        $failure[0].FullyQualifiedErrorId | Should -BeLike 'DeviceNotFound,*'
        { Disconnect-NbdDevice -Device nosuchdevice -ErrorAction Stop } | Should -Throw -ErrorId 'DeviceNotFound,*'
    }
}

Describe 'The one-shot -Uri of Read-BlockDevice and Write-BlockDevice' {
    AfterEach {
        Remove-TestObjects
    }

    It 'Read-BlockDevice -Uri reads an export and leaves no device in the session (<Kind>)' -ForEach @(
        @{ Kind = 'unix socket' }
        @{ Kind = 'TCP' }
    ) {
        $uri = if ($Kind -eq 'TCP') { $TcpUri } else { $UnixUri }
        $blocks = @(Read-BlockDevice -Uri $uri -Count 2048 -SectorsPerObject 256)

        $blocks.Count | Should -Be 8
        $blocks[0].Device | Should -MatchExactly '^nbd-[0-9a-f]{8}$'
        Get-BytesHash (Join-BlockData $blocks) | Should -Be $PatternHash
        Get-NbdDeviceCount | Should -Be 0
    }

    It 'Read-BlockDevice -Uri -OutFile copies an export into a file' {
        $out = Join-Path $TestDrive 'copy.bin'
        Read-BlockDevice -Uri $UnixUri -Count 2048 -OutFile $out

        (Get-FileHash -LiteralPath $out -Algorithm SHA256).Hash | Should -Be $PatternHash
    }

    It 'Write-BlockDevice -Uri writes an export (same checksum on the served device)' {
        $bytes = New-RandomBytes 64KB 13
        Write-BlockDevice -Uri $TcpUri -Sector 5000 -Data $bytes -Force

        $local = Join-BlockData @(Read-BlockDevice -Device src -Sector 5000 -Count 128 -SectorsPerObject 128)
        Get-BytesHash $local | Should -Be (Get-BytesHash $bytes)
        Get-NbdDeviceCount | Should -Be 0
    }

    It 'Write-BlockDevice -Uri writes all the piped objects over one connection' {
        New-BlockDevice -Size 4MB -Name dst | Out-Null
        $server = Start-NbdServer -Device dst -SocketPath (Join-Path $TestDrive 'dst.sock') -Name dstsrv
        Read-BlockDevice -Device src -Count 2048 -SectorsPerObject 256 |
            Write-BlockDevice -Uri "nbd+unix:///?socket=$($server.UnixSocketPath)" -Force

        $copied = Join-BlockData @(Read-BlockDevice -Device dst -Count 2048 -SectorsPerObject 2048)
        Get-BytesHash $copied | Should -Be $PatternHash
        $server.GetStatistics().TotalConnections | Should -Be 1
        Get-NbdDeviceCount | Should -Be 0
    }

    It 'Write-BlockDevice -Uri -WhatIf neither connects nor writes' {
        New-BlockDevice -Size 1MB -Name wi | Out-Null
        $server = Start-NbdServer -Device wi -SocketPath (Join-Path $TestDrive 'wi.sock') -Name wisrv
        Write-BlockDevice -Uri "nbd+unix:///?socket=$($server.UnixSocketPath)" -Data (New-RandomBytes 512 3) -WhatIf

        $server.GetStatistics().TotalConnections | Should -Be 0
        (Get-DeviceStats -Name wi).WriteOps | Should -Be 0
    }

    It 'Read-BlockDevice -Uri fails with DeviceNotFound for an unknown export and ConnectionRefused when nothing listens' {
        { Read-BlockDevice -Uri "nbd+unix:///nosuch?socket=$Sock" -Count 1 -ErrorAction Stop } | Should -Throw -ErrorId 'DeviceNotFound,*'
        $free = Get-FreePort
        { Read-BlockDevice -Uri "nbd://127.0.0.1:$free/" -Count 1 -ErrorAction Stop } | Should -Throw -ErrorId 'ConnectionRefused,*'
        Get-NbdDeviceCount | Should -Be 0
    }
}

Describe 'Get-BlockDeviceAllocation of a RAM disk after writing one megabyte (-Uri, -Device)' {
    BeforeAll {
        New-BlockDevice -Size 4MB -Name holes | Out-Null
        Write-BlockDevice -Device holes -Data (New-RandomBytes 1MB 5) -Force
        $HolesServer = Start-NbdServer -Device holes -SocketPath (Join-Path $TestDrive 'holes.sock') -Name holesrv
        $HolesUri = "nbd+unix:///?socket=$($HolesServer.UnixSocketPath)"
    }

    AfterEach {
        Get-BlockDevice | Where-Object Driver -eq 'nbd' | Disconnect-NbdDevice -Confirm:$false
    }

    AfterAll {
        Stop-NbdServer -Server holesrv -Confirm:$false
        Close-BlockDevice -Device holes -Confirm:$false
    }

    It 'maps one data run and one hole (<How>)' -ForEach @(
        @{ How = 'by -Uri' }
        @{ How = 'by -Device of the RAM disk itself' }
        @{ How = 'by -Device of a connected NBD device' }
    ) {
        $map = @(switch ($How) {
            'by -Uri' { @(Get-BlockDeviceAllocation -Uri $HolesUri) }
            'by -Device of the RAM disk itself' { @(Get-BlockDeviceAllocation -Device holes) }
            default { @(Get-BlockDeviceAllocation -Device (Connect-NbdDevice -Uri $HolesUri)) }
        })

        $map.Count | Should -Be 2
        $map[0].Description | Should -BeExactly 'data'
        $map[0].Flags | Should -Be ([VirtualDevices.Block.BlockExtentFlags]::Data)
        $map[0].Offset | Should -Be 0
        $map[0].Length | Should -Be 1MB
        $map[0].Sector | Should -Be 0
        $map[0].Count | Should -Be 2048
        $map[1].Description | Should -BeExactly 'hole,zero'
        $map[1].Flags | Should -Be ([VirtualDevices.Block.BlockExtentFlags]'Hole, Zero')
        $map[1].Offset | Should -Be 1MB
        $map[1].Length | Should -Be 3MB
        $map[1].SectorSize | Should -Be 512
    }

    It 'maps only -Sector and -Count' {
        $map = @(Get-BlockDeviceAllocation -Uri $HolesUri -Sector 1024 -Count 2048)

        $map.Count | Should -Be 2
        $map[0].Sector | Should -Be 1024
        $map[0].Count | Should -Be 1024
        $map[0].Description | Should -BeExactly 'data'
        $map[1].Sector | Should -Be 2048
        $map[1].Count | Should -Be 1024
        $map[1].Description | Should -BeExactly 'hole,zero'
    }

    It 'leaves no device in the session after -Uri' {
        Get-BlockDeviceAllocation -Uri $HolesUri | Out-Null
        Get-NbdDeviceCount | Should -Be 0
    }

    It 'is shown with its table view' {
        $text = Get-BlockDeviceAllocation -Device holes | Format-Table | Out-String -Width 250

        foreach ($header in 'Device', 'Offset', 'Length', 'Sector', 'Type') {
            $text | Should -Match $header
        }
        $text | Should -Match 'hole,zero'
        $text | Should -Match '1048576'
    }
}

Describe 'Get-NbdExport' {
    AfterEach {
        Remove-TestObjects
    }

    It 'lists the default export and the device name, with sizes and flags (<How>)' -ForEach @(
        @{ How = '-SocketPath' }
        @{ How = '-Uri' }
        @{ How = '-Server and -Port' }
    ) {
        $exports = @(switch ($How) {
            '-SocketPath' { @(Get-NbdExport -SocketPath $Sock) }
            '-Uri' { @(Get-NbdExport -Uri "nbd://127.0.0.1:$Port/ignored") }
            default { @(Get-NbdExport -Server 127.0.0.1 -Port $Port) }
        })

        $exports.Count | Should -Be 2
        $exports[0].GetType().FullName | Should -BeExactly 'VirtualDevices.Nbd.Client.NbdExportInfo'
        ($exports.Name | Sort-Object) -join ',' | Should -BeExactly ',src'
        foreach ($export in $exports) {
            $export.Size | Should -Be 4MB
            $export.ReadOnly | Should -BeFalse
            $export.Description | Should -BeExactly 'src'
            $export.MinimumBlockSize | Should -Be 512
            $export.PreferredBlockSize | Should -Be 4096
            $export.MaximumBlockSize | Should -BeGreaterOrEqual 1MB
            $export.Flags.HasFlag([VirtualDevices.Nbd.NbdTransmissionFlags]::CanMultiConnection) | Should -BeTrue
            $export.Flags.HasFlag([VirtualDevices.Nbd.NbdTransmissionFlags]::SendFlush) | Should -BeTrue
        }
    }

    It 'adds no device to the session and leaves no client connected' {
        Get-NbdExport -SocketPath $Sock | Out-Null
        Get-NbdDeviceCount | Should -Be 0
        Wait-Condition { $UnixServer.ConnectionCount -eq 0 } | Should -BeTrue
    }

    It 'fails with ConnectionRefused when nothing listens' {
        $free = Get-FreePort
        { Get-NbdExport -Server 127.0.0.1 -Port $free -ConnectTimeout 10 -ErrorAction Stop } |
            Should -Throw -ErrorId 'ConnectionRefused,VirtualDevices.PowerShell.Commands.Nbd.GetNbdExportCommand'
    }

    It 'is shown with its table view' {
        $text = Get-NbdExport -SocketPath $Sock | Format-Table | Out-String -Width 250

        foreach ($header in 'Name', 'Size', 'ReadOnly', 'Block', 'Description') {
            $text | Should -Match $header
        }
        $text | Should -Match '4[.,]0 MiB'
        $text | Should -Match 'src'
    }
}

Describe 'Start-NbdServer' {
    AfterEach {
        Remove-TestObjects
    }

    It 'returns a running server named nbd-serverN, listening on a unix socket only' {
        $path = Join-Path $TestDrive 'a.sock'
        $server = Start-NbdServer -Device src -SocketPath $path

        $server.GetType().FullName | Should -BeExactly 'VirtualDevices.Nbd.Server.NbdServer'
        $server.Name | Should -Match '^nbd-server\d+$'
        $server.IsRunning | Should -BeTrue
        $server.UnixSocketPath | Should -Be $path
        $server.TcpEndPoint | Should -BeNullOrEmpty
        Test-Path -LiteralPath $path | Should -BeTrue
        (Get-NbdServer -Name $server.Name).IsRunning | Should -BeTrue
    }

    It 'gives each server a name of its own' {
        $first = Start-NbdServer -Device src -SocketPath (Join-Path $TestDrive 'n1.sock')
        $second = Start-NbdServer -Device src -SocketPath (Join-Path $TestDrive 'n2.sock')

        $first.Name | Should -Match '^nbd-server\d+$'
        $second.Name | Should -Match '^nbd-server\d+$'
        $second.Name | Should -Not -Be $first.Name
    }

    It 'refuses a -Name already used with ServiceNameInUse, and does not keep listening' {
        Start-NbdServer -Device src -SocketPath (Join-Path $TestDrive 'd1.sock') -Name dup | Out-Null
        $second = Join-Path $TestDrive 'd2.sock'
        { Start-NbdServer -Device src -SocketPath $second -Name dup -ErrorAction Stop } |
            Should -Throw -ErrorId 'ServiceNameInUse,VirtualDevices.PowerShell.Commands.Nbd.StartNbdServerCommand'

        @(Get-NbdServer -Name dup).Count | Should -Be 1
        (Get-NbdServer -Name dup).UnixSocketPath | Should -Not -Be $second
        Test-Path -LiteralPath $second | Should -BeFalse
    }

    It 'exports a single device as the default export and under its name' {
        $server = Start-NbdServer -Device src -SocketPath (Join-Path $TestDrive 'single.sock')

        ($server.Exports.Name | Sort-Object) -join ',' | Should -BeExactly ',src'
        (Connect-NbdDevice -SocketPath $server.UnixSocketPath -ExportName src).ExportSize | Should -Be 4MB
    }

    It 'exports a single device under -ExportName alone' {
        $server = Start-NbdServer -Device src -SocketPath (Join-Path $TestDrive 'named.sock') -ExportName disk

        @($server.Exports.Name) -join ',' | Should -BeExactly 'disk'
        @(Get-NbdExport -SocketPath $server.UnixSocketPath).Name -join ',' | Should -BeExactly 'disk'
        (Connect-NbdDevice -SocketPath $server.UnixSocketPath -ExportName disk).ExportName | Should -BeExactly 'disk'
        { Connect-NbdDevice -SocketPath $server.UnixSocketPath -ErrorAction Stop } | Should -Throw -ErrorId 'DeviceNotFound,*'
    }

    It 'exports several devices under their names, with no default export' {
        New-BlockDevice -Size 1MB -Name a | Out-Null
        New-BlockDevice -Size 2MB -Name b | Out-Null
        $server = Start-NbdServer -Device a, b -SocketPath (Join-Path $TestDrive 'ab.sock')

        $exports = @(Get-NbdExport -SocketPath $server.UnixSocketPath | Sort-Object Name)
        ($exports.Name) -join ',' | Should -BeExactly 'a,b'
        $exports[0].Size | Should -Be 1MB
        $exports[1].Size | Should -Be 2MB
        { Connect-NbdDevice -SocketPath $server.UnixSocketPath -ErrorAction Stop } | Should -Throw -ErrorId 'DeviceNotFound,*'
    }

    It 'takes the devices from the pipeline' {
        New-BlockDevice -Size 1MB -Name c | Out-Null
        New-BlockDevice -Size 1MB -Name d | Out-Null
        $server = Get-BlockDevice -Name c, d | Start-NbdServer -SocketPath (Join-Path $TestDrive 'cd.sock')

        @($server).Count | Should -Be 1
        ($server.Exports.Name | Sort-Object) -join ',' | Should -BeExactly 'c,d'
    }

    It 'refuses -ExportName with several devices' {
        New-BlockDevice -Size 1MB -Name e | Out-Null
        $path = Join-Path $TestDrive 'ef.sock'
        { Start-NbdServer -Device src, e -ExportName x -SocketPath $path -ErrorAction Stop } | Should -Throw -ErrorId 'InvalidArgument,*'
        Test-Path -LiteralPath $path | Should -BeFalse
    }

    It 'listens on a free port with -Port 0, on 127.0.0.1' {
        $server = Start-NbdServer -Device src -Port 0

        $server.TcpEndPoint.Port | Should -BeGreaterThan 0
        $server.TcpEndPoint.Address.ToString() | Should -BeExactly '127.0.0.1'
        $server.UnixSocketPath | Should -BeNullOrEmpty
        $device = Connect-NbdDevice -Server 127.0.0.1 -Port $server.TcpEndPoint.Port
        Get-BytesHash (Join-BlockData @(Read-BlockDevice -Device $device -Count 2048 -SectorsPerObject 2048)) | Should -Be $PatternHash
    }

    It 'listens on TCP and a unix socket when -Port and -SocketPath are both given' {
        $server = Start-NbdServer -Device src -Port 0 -SocketPath (Join-Path $TestDrive 'both.sock')

        $server.TcpEndPoint.Port | Should -BeGreaterThan 0
        $server.UnixSocketPath | Should -Not -BeNullOrEmpty
        (Connect-NbdDevice -Uri "nbd://127.0.0.1:$($server.TcpEndPoint.Port)/src").ExportName | Should -BeExactly 'src'
        (Connect-NbdDevice -Uri "nbd+unix:///src?socket=$($server.UnixSocketPath)").ExportName | Should -BeExactly 'src'
    }

    It 'fails with AddressInUse when the port is in use' {
        { Start-NbdServer -Device src -Port $Port -ErrorAction Stop } | Should -Throw -ErrorId 'AddressInUse,*'
        @(Get-NbdServer | Where-Object { $_.TcpEndPoint -and $_.TcpEndPoint.Port -eq $Port }).Count | Should -Be 1
    }

    It 'fails with NbdServerSocketInUse when another server listens on the socket' {
        { Start-NbdServer -Device src -SocketPath $Sock -ErrorAction Stop } | Should -Throw -ErrorId 'NbdServerSocketInUse,*'
        $UnixServer.IsRunning | Should -BeTrue
        (Connect-NbdDevice -Uri $UnixUri).IsConnected | Should -BeTrue
    }

    It 'refuses TLS without a certificate with InvalidArgument' {
        { Start-NbdServer -Device src -SocketPath (Join-Path $TestDrive 'notls.sock') -Tls Require -ErrorAction Stop } |
            Should -Throw -ErrorId 'InvalidArgument,*'
    }

    It 'starts nothing with -WhatIf' {
        $path = Join-Path $TestDrive 'whatif.sock'
        $before = @(Get-NbdServer).Count
        Start-NbdServer -Device src -SocketPath $path -WhatIf | Should -BeNullOrEmpty

        Test-Path -LiteralPath $path | Should -BeFalse
        @(Get-NbdServer).Count | Should -Be $before
    }

    Context '-ReadOnly' {
        It 'exports read-only: clients are told, and their writes fail with BlockReadOnly' {
            $server = Start-NbdServer -Device src -SocketPath (Join-Path $TestDrive 'ro.sock') -ReadOnly
            $uri = "nbd+unix:///?socket=$($server.UnixSocketPath)"
            $device = Connect-NbdDevice -Uri $uri

            $device.Info.ReadOnly | Should -BeTrue
            $exports = @(Get-NbdExport -Uri $uri)
            $exports | Should -HaveCount 2
            $exports | ForEach-Object { $_.ReadOnly | Should -BeTrue }
            { Write-BlockDevice -Device $device -Data ([byte[]]::new(512)) -Force -ErrorAction Stop } |
                Should -Throw -ErrorId 'BlockReadOnly,VirtualDevices.PowerShell.Commands.Block.WriteBlockDeviceCommand'
            { Write-BlockDevice -Uri $uri -Data ([byte[]]::new(512)) -Force -ErrorAction Stop } |
                Should -Throw -ErrorId 'BlockReadOnly,*'
            $first = (Read-BlockDevice -Device src -Count 1).Data
            Get-BytesHash $first | Should -Not -Be (Get-BytesHash ([byte[]]::new(512)))
        }

        It 'still serves reads' {
            $server = Start-NbdServer -Device src -SocketPath (Join-Path $TestDrive 'ro2.sock') -ReadOnly
            $data = Join-BlockData @(Read-BlockDevice -Uri "nbd+unix:///?socket=$($server.UnixSocketPath)" -Count 2048 -SectorsPerObject 2048)
            Get-BytesHash $data | Should -Be $PatternHash
        }

        It 'leaves the served device writable in the session' {
            Start-NbdServer -Device src -SocketPath (Join-Path $TestDrive 'ro3.sock') -ReadOnly | Out-Null
            (Get-BlockDevice -Name src).Info.ReadOnly | Should -BeFalse
        }
    }

    Context '-Path' {
        BeforeEach {
            $ImageBytes = New-RandomBytes 1MB 17
            $Image = Join-Path $TestDrive 'disk.img'
            [IO.File]::WriteAllBytes($Image, $ImageBytes)
        }

        It 'serves the image as the default export and under its file name, outside the session''s devices' {
            $server = Start-NbdServer -Path $Image -SocketPath (Join-Path $TestDrive 'img.sock')

            ($server.Exports.Name | Sort-Object) -join ',' | Should -BeExactly ',disk.img'
            Get-BlockDevice | Where-Object Name -eq 'disk.img' | Should -BeNullOrEmpty
            $data = Join-BlockData @(Read-BlockDevice -Uri "nbd+unix:///disk.img?socket=$($server.UnixSocketPath)" -Count 2048 -SectorsPerObject 2048)
            Get-BytesHash $data | Should -Be (Get-BytesHash $ImageBytes)
        }

        It 'writes through to the image file' {
            $server = Start-NbdServer -Path $Image -SocketPath (Join-Path $TestDrive 'imgw.sock')
            $bytes = New-RandomBytes 4096 19
            Write-BlockDevice -Uri "nbd+unix:///?socket=$($server.UnixSocketPath)" -Sector 8 -Data $bytes -Force
            Stop-NbdServer -Server $server

            $file = [IO.File]::ReadAllBytes($Image)
            $slice = [byte[]]::new(4096)
            [Array]::Copy($file, 4096, $slice, 0, 4096)
            Get-BytesHash $slice | Should -Be (Get-BytesHash $bytes)
        }

        It 'closes the image when the server stops, so that it can be deleted' {
            $server = Start-NbdServer -Path $Image -SocketPath (Join-Path $TestDrive 'imgs.sock') -Name imgsrv
            $served = @($server.Exports)[0].Device
            $served.IsConnected | Should -BeTrue

            Stop-NbdServer -Server imgsrv
            $served.IsConnected | Should -BeFalse
            Remove-Item -LiteralPath $Image
            Test-Path -LiteralPath $Image | Should -BeFalse
            Get-BlockDevice | Where-Object Name -eq 'disk.img' | Should -BeNullOrEmpty
        }

        It 'takes files from the pipeline (FullName)' {
            $server = Get-Item -LiteralPath $Image | Start-NbdServer -SocketPath (Join-Path $TestDrive 'imgp.sock')
            ($server.Exports.Name | Sort-Object) -join ',' | Should -BeExactly ',disk.img'
        }

        It 'opens the image read-only with -ReadOnly' {
            $server = Start-NbdServer -Path $Image -SocketPath (Join-Path $TestDrive 'imgr.sock') -ReadOnly
            @($server.Exports)[0].Device.Info.ReadOnly | Should -BeTrue
            { Write-BlockDevice -Uri "nbd+unix:///?socket=$($server.UnixSocketPath)" -Data ([byte[]]::new(512)) -Force -ErrorAction Stop } |
                Should -Throw -ErrorId 'BlockReadOnly,*'
        }

        It 'fails with DeviceNotFound for a missing image, and starts nothing' {
            $path = Join-Path $TestDrive 'missing.sock'
            { Start-NbdServer -Path (Join-Path $TestDrive 'missing.img') -SocketPath $path -ErrorAction Stop } |
                Should -Throw -ErrorId 'DeviceNotFound,*'
            Test-Path -LiteralPath $path | Should -BeFalse
        }

        It 'opens nothing with -WhatIf' {
            $path = Join-Path $TestDrive 'imgwi.sock'
            Start-NbdServer -Path $Image -SocketPath $path -WhatIf | Should -BeNullOrEmpty
            Test-Path -LiteralPath $path | Should -BeFalse
        }
    }

    Context 'TLS' {
        BeforeAll {
            # A self-signed certificate for localhost; the server's directory must not hold ca-cert.pem, which would
            # make it require client certificates.
            $key = [Security.Cryptography.RSA]::Create(2048)
            $request = [Security.Cryptography.X509Certificates.CertificateRequest]::new('CN=localhost', $key,
                [Security.Cryptography.HashAlgorithmName]::SHA256, [Security.Cryptography.RSASignaturePadding]::Pkcs1)
            $names = [Security.Cryptography.X509Certificates.SubjectAlternativeNameBuilder]::new()
            $names.AddDnsName('localhost')
            $names.AddIpAddress([Net.IPAddress]::Loopback)
            $request.CertificateExtensions.Add($names.Build())
            $request.CertificateExtensions.Add([Security.Cryptography.X509Certificates.X509BasicConstraintsExtension]::new($true, $false, 0, $true))
            $Certificate = $request.CreateSelfSigned([DateTimeOffset]::UtcNow.AddDays(-1), [DateTimeOffset]::UtcNow.AddDays(1))
            $ServerPki = Join-Path $TestDrive 'server-pki'
            $ClientPki = Join-Path $TestDrive 'client-pki'
            New-Item -ItemType Directory -Path $ServerPki, $ClientPki | Out-Null
            Set-Content -LiteralPath (Join-Path $ServerPki 'server-cert.pem') -Value $Certificate.ExportCertificatePem()
            Set-Content -LiteralPath (Join-Path $ServerPki 'server-key.pem') -Value $key.ExportRSAPrivateKeyPem()
            Set-Content -LiteralPath (Join-Path $ClientPki 'ca-cert.pem') -Value $Certificate.ExportCertificatePem()
        }

        It 'requires TLS with -Certificate: nbds clients connect, plain clients fail with NbdTlsFailed' {
            $server = Start-NbdServer -Device src -SocketPath (Join-Path $TestDrive 'tls1.sock') -Tls Require -Certificate $Certificate
            $socket = $server.UnixSocketPath

            $device = Connect-NbdDevice -Uri "nbds+unix:///?socket=$socket" -SkipCertificateCheck
            $device.IsTls | Should -BeTrue
            Get-BytesHash (Join-BlockData @(Read-BlockDevice -Device $device -Count 2048 -SectorsPerObject 2048)) | Should -Be $PatternHash
            { Connect-NbdDevice -Uri "nbd+unix:///?socket=$socket" -ErrorAction Stop } | Should -Throw -ErrorId 'NbdTlsFailed,*'
            { Get-NbdExport -SocketPath $socket -ErrorAction Stop } | Should -Throw -ErrorId 'NbdTlsFailed,*'
            @(Get-NbdExport -SocketPath $socket -Tls Require -SkipCertificateCheck).Count | Should -Be 2
        }

        It 'loads server-cert.pem and server-key.pem from -TlsCertificates, and the client trusts ca-cert.pem' {
            $server = Start-NbdServer -Device src -SocketPath (Join-Path $TestDrive 'tls2.sock') -Tls Require -TlsCertificates $ServerPki
            $uri = "nbds+unix:///?socket=$($server.UnixSocketPath)"

            (Connect-NbdDevice -Uri $uri -TlsCertificates $ClientPki).IsTls | Should -BeTrue
            { Connect-NbdDevice -Uri $uri -ErrorAction Stop } | Should -Throw -ErrorId 'NbdTlsFailed,*'
        }

        It 'takes a certificate without -Tls to mean -Tls Require, on both sides' {
            $server = Start-NbdServer -Device src -SocketPath (Join-Path $TestDrive 'tls4.sock') -TlsCertificates $ServerPki
            $socket = $server.UnixSocketPath
            { Connect-NbdDevice -SocketPath $socket -ErrorAction Stop } | Should -Throw -ErrorId 'NbdTlsFailed,*'
            (Connect-NbdDevice -Uri "nbd+unix:///?socket=$socket" -TlsCertificates $ClientPki).IsTls | Should -BeTrue
        }

        It 'checks the host name over TCP' {
            $server = Start-NbdServer -Device src -Port 0 -Tls Require -Certificate $Certificate
            $port = $server.TcpEndPoint.Port

            (Connect-NbdDevice -Uri "nbds://localhost:$port/src" -TlsCertificates $ClientPki).IsTls | Should -BeTrue
            (Connect-NbdDevice -Server 127.0.0.1 -Port $port -ExportName src -Tls Require -TlsCertificates $ClientPki).IsTls | Should -BeTrue
        }

        It 'lets -Tls On clients choose, and falls back to plain text against a server without TLS' {
            $server = Start-NbdServer -Device src -SocketPath (Join-Path $TestDrive 'tls3.sock') -Tls On -Certificate $Certificate
            (Connect-NbdDevice -SocketPath $server.UnixSocketPath).IsTls | Should -BeFalse
            (Connect-NbdDevice -SocketPath $server.UnixSocketPath -Tls On -SkipCertificateCheck).IsTls | Should -BeTrue
            (Connect-NbdDevice -SocketPath $Sock -Tls On).IsTls | Should -BeFalse
        }

        It 'fails with NbdTlsFailed when TLS is required of a server without it' {
            { Connect-NbdDevice -SocketPath $Sock -Tls Require -SkipCertificateCheck -ErrorAction Stop } | Should -Throw -ErrorId 'NbdTlsFailed,*'
            { Connect-NbdDevice -Uri "nbds+unix:///?socket=$Sock" -SkipCertificateCheck -ErrorAction Stop } | Should -Throw -ErrorId 'NbdTlsFailed,*'
            Get-NbdDeviceCount | Should -Be 0
        }
    }
}

Describe 'Stop-NbdServer and Get-NbdServer' {
    AfterEach {
        Remove-TestObjects
    }

    It 'stops a server by name: it no longer runs, its socket is gone, and it leaves the session' {
        $server = Start-NbdServer -Device src -SocketPath (Join-Path $TestDrive 's1.sock') -Name stop1
        $path = $server.UnixSocketPath
        Stop-NbdServer stop1

        $server.IsRunning | Should -BeFalse
        Test-Path -LiteralPath $path | Should -BeFalse
        { Get-NbdServer -Name stop1 -ErrorAction Stop } |
            Should -Throw -ErrorId 'ServiceNotFound,VirtualDevices.PowerShell.Commands.Nbd.GetNbdServerCommand'
        { Connect-NbdDevice -SocketPath $path -ConnectTimeout 10 -ErrorAction Stop } | Should -Throw -ErrorId 'SocketNotFound,*'
    }

    It 'stops servers given as objects or piped from Get-NbdServer' {
        $one = Start-NbdServer -Device src -SocketPath (Join-Path $TestDrive 's2.sock') -Name pipe1
        $two = Start-NbdServer -Device src -SocketPath (Join-Path $TestDrive 's3.sock') -Name pipe2
        Stop-NbdServer -Server $one
        Get-NbdServer -Name pipe2 | Stop-NbdServer

        $one.IsRunning | Should -BeFalse
        $two.IsRunning | Should -BeFalse
        Get-NbdServer -Name pipe* | Should -BeNullOrEmpty
    }

    It 'leaves the devices of the session open' {
        Start-NbdServer -Device src -SocketPath (Join-Path $TestDrive 's4.sock') -Name keepdev | Out-Null
        Stop-NbdServer keepdev
        (Get-BlockDevice -Name src).IsConnected | Should -BeTrue
    }

    It 'disconnects its clients: their requests then fail with DeviceDisconnected' {
        $server = Start-NbdServer -Device src -SocketPath (Join-Path $TestDrive 's5.sock') -Name clients
        $device = Connect-NbdDevice -SocketPath $server.UnixSocketPath
        Wait-Condition { $server.ConnectionCount -eq 1 } | Should -BeTrue

        Stop-NbdServer clients
        { Read-BlockDevice -Device $device -Count 1 -ErrorAction Stop } | Should -Throw -ErrorId 'DeviceDisconnected,*'
        Wait-Condition { -not $device.IsConnected } | Should -BeTrue
        # Still listed until it is disconnected (Connect-NbdDevice and Disconnect-NbdDevice help). Checked on the
        # listed object itself: `(Get-BlockDevice -Name x).IsConnected` is $null when x is not listed, and $null
        # passes Should -BeFalse.
        $listed = @(Get-BlockDevice -Name $device.Name -ErrorAction SilentlyContinue)
        $listed | Should -HaveCount 1 -Because 'a device whose server went away stays listed until it is disconnected'
        $listed[0].IsConnected | Should -BeFalse
        Disconnect-NbdDevice -Device $device
        Get-BlockDevice -Name $device.Name -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
    }

    It 'stops nothing with -WhatIf' {
        $server = Start-NbdServer -Device src -SocketPath (Join-Path $TestDrive 's6.sock') -Name whatif1
        Stop-NbdServer whatif1 -WhatIf
        $server.IsRunning | Should -BeTrue
        (Get-NbdServer -Name whatif1).IsRunning | Should -BeTrue
    }

    It 'reports a name that no server has as a non-terminating NbdServerNotFound error' {
        Stop-NbdServer -Server nosuchserver -ErrorAction SilentlyContinue -ErrorVariable failure
        $failure[0].FullyQualifiedErrorId | Should -BeLike 'NbdServerNotFound,*'
        { Stop-NbdServer -Server nosuchserver -ErrorAction Stop } | Should -Throw -ErrorId 'NbdServerNotFound,*'
    }

    It 'gets every server, or those whose names match, with wildcards' {
        Start-NbdServer -Device src -SocketPath (Join-Path $TestDrive 'g1.sock') -Name getme1 | Out-Null
        Start-NbdServer -Device src -SocketPath (Join-Path $TestDrive 'g2.sock') -Name getme2 | Out-Null

        @(Get-NbdServer -Name getme*).Count | Should -Be 2
        (Get-NbdServer -Name getme1).Name | Should -BeExactly 'getme1'
        $all = @(Get-NbdServer).Name
        $all | Should -Contain 'unixsrv'
        $all | Should -Contain 'tcpsrv'
        $all | Should -Contain 'getme2'
        Get-NbdServer -Name 'nomatch*' | Should -BeNullOrEmpty
    }

    It 'counts the requests of its clients' {
        $server = Start-NbdServer -Device src -SocketPath (Join-Path $TestDrive 'count.sock') -Name counted
        Read-BlockDevice -Uri "nbd+unix:///?socket=$($server.UnixSocketPath)" -Count 8 -SectorsPerObject 8 | Out-Null

        # The server counts a request once its reply is sent, which the client may see first.
        Wait-Condition { $server.GetStatistics().BytesRead -eq 4096 } | Should -BeTrue
        $stats = $server.GetStatistics()
        $stats.TotalConnections | Should -Be 1
        $stats.BytesRead | Should -Be 4096
        $stats.Requests | Should -BeGreaterOrEqual 1
        $stats.ProtocolViolations | Should -Be 0
    }

    It 'is shown with its table view' {
        $text = Get-NbdServer -Name unixsrv, tcpsrv | Format-Table | Out-String -Width 250

        foreach ($header in 'Name', 'Running', 'Clients', 'Endpoint', 'Exports') {
            $text | Should -Match $header
        }
        $text | Should -Match 'unixsrv'
        $text | Should -Match "127\.0\.0\.1:$Port"
        $text | Should -Match '\(default\)'
    }
}

Describe 'Real peers: nbdkit and nbdinfo' {
    Context 'The client against nbdkit' {
        BeforeAll {
            $KitSock = Join-Path $TestDrive 'kit.sock'
            $Kit = $null
            if (Get-Command nbdkit -CommandType Application -ErrorAction SilentlyContinue) {
                $info = [Diagnostics.ProcessStartInfo]::new((Get-Command nbdkit -CommandType Application | Select-Object -First 1).Source)
                foreach ($argument in '-f', '-U', $KitSock, '--exit-with-parent', 'memory', '4M') { $info.ArgumentList.Add($argument) }
                $info.UseShellExecute = $false
                $Kit = [Diagnostics.Process]::Start($info)
            }
            # Bounded: nbdkit creates its socket within milliseconds when it starts at all.
            $KitReady = $null -ne $Kit -and (Wait-Condition { Test-Path -LiteralPath $KitSock } 10)
            $KitUri = "nbd+unix:///?socket=$KitSock"
        }

        AfterEach {
            Get-BlockDevice | Where-Object Driver -eq 'nbd' | Disconnect-NbdDevice -Confirm:$false
        }

        AfterAll {
            if ($Kit -and -not $Kit.HasExited) {
                $Kit.Kill()
                $null = $Kit.WaitForExit(10000)
            }
        }

        It 'connects to nbdkit memory and reads back what it wrote' -Skip:(-not $nbdkit) {
            if (-not $KitReady) { Set-ItResult -Skipped -Because 'nbdkit did not start'; return }
            $device = Connect-NbdDevice -Uri $KitUri -Connections 2 -Name kit

            $device.ExportSize | Should -Be 4MB
            $device.Info.SectorCount | Should -Be 8192
            $expected = if ($device.TransmissionFlags.HasFlag([VirtualDevices.Nbd.NbdTransmissionFlags]::CanMultiConnection)) { 2 } else { 1 }
            $device.ConnectionCount | Should -Be $expected
            Write-BlockDevice -Device kit -Data $Pattern -Force
            $data = Join-BlockData @(Read-BlockDevice -Device kit -Count 2048 -SectorsPerObject 256)
            Get-BytesHash $data | Should -Be $PatternHash
        }

        It 'lists the export of nbdkit' -Skip:(-not $nbdkit) {
            if (-not $KitReady) { Set-ItResult -Skipped -Because 'nbdkit did not start'; return }
            $exports = @(Get-NbdExport -SocketPath $KitSock)
            $exports.Count | Should -BeGreaterOrEqual 1
            ($exports | Where-Object Name -eq '').Size | Should -Be 4MB
        }

        It 'maps the allocation of nbdkit memory: data where it was written, holes elsewhere' -Skip:(-not $nbdkit) {
            if (-not $KitReady) { Set-ItResult -Skipped -Because 'nbdkit did not start'; return }
            Write-BlockDevice -Uri $KitUri -Data $Pattern -Force
            $map = @(Get-BlockDeviceAllocation -Uri $KitUri)

            $map[0].Description | Should -BeExactly 'data'
            $map[0].Offset | Should -Be 0
            $map[0].Length | Should -BeGreaterOrEqual 1MB
            $map[-1].Description | Should -BeExactly 'hole,zero'
            ($map | Measure-Object -Property Length -Sum).Sum | Should -Be 4MB
        }
    }

    Context 'nbdinfo against our server' {
        It 'nbdinfo --json describes an export of Start-NbdServer' -Skip:(-not $nbdinfo) {
            $result = Invoke-Tool nbdinfo '--json', "nbd+unix:///src?socket=$Sock" -TimeoutSeconds 30
            $result.ExitCode | Should -Be 0 -Because $result.Error
            $json = $result.Output | ConvertFrom-Json

            $json.protocol | Should -BeExactly 'newstyle-fixed'
            $export = $json.exports[0]
            $export.'export-name' | Should -BeExactly 'src'
            $export.'export-size' | Should -Be 4194304
            $export.is_read_only | Should -BeFalse
            $export.can_multi_conn | Should -BeTrue
            $export.can_flush | Should -BeTrue
            $export.contexts | Should -Contain 'base:allocation'
        }

        It 'nbdinfo --list --json lists the default export and the device name' -Skip:(-not $nbdinfo) {
            $result = Invoke-Tool nbdinfo '--list', '--json', "nbd://127.0.0.1:$Port/" -TimeoutSeconds 30
            $result.ExitCode | Should -Be 0 -Because $result.Error
            $names = @(($result.Output | ConvertFrom-Json).exports | ForEach-Object { $_.'export-name' })

            ($names | Sort-Object) -join ',' | Should -BeExactly ',src'
        }

        It 'nbdinfo sees a -ReadOnly export as read-only' -Skip:(-not $nbdinfo) {
            $server = Start-NbdServer -Device src -SocketPath (Join-Path $TestDrive 'info-ro.sock') -ReadOnly -Name inforo
            try {
                $result = Invoke-Tool nbdinfo '--json', "nbd+unix:///?socket=$($server.UnixSocketPath)" -TimeoutSeconds 30
                $result.ExitCode | Should -Be 0 -Because $result.Error
                ($result.Output | ConvertFrom-Json).exports[0].is_read_only | Should -BeTrue
            } finally {
                Stop-NbdServer -Server inforo -Confirm:$false
            }
        }

        It 'nbdinfo --map sees the holes of a served RAM disk' -Skip:(-not $nbdinfo) {
            New-BlockDevice -Size 4MB -Name mapped | Out-Null
            $server = Start-NbdServer -Device mapped -SocketPath (Join-Path $TestDrive 'map.sock') -Name mapsrv
            try {
                Write-BlockDevice -Device mapped -Data $Pattern -Force
                $result = Invoke-Tool nbdinfo '--map', "nbd+unix:///?socket=$($server.UnixSocketPath)" -TimeoutSeconds 30
                $result.ExitCode | Should -Be 0 -Because $result.Error
                $lines = @($result.Output -split "`n" | Where-Object { $_.Trim() })

                $lines.Count | Should -Be 2
                $first = $lines[0].Trim() -split '\s+'
                $second = $lines[1].Trim() -split '\s+'
                $first[0] | Should -BeExactly '0'
                $first[1] | Should -BeExactly '1048576'
                $first[-1] | Should -BeExactly 'data'
                $second[0] | Should -BeExactly '1048576'
                $second[1] | Should -BeExactly '3145728'
                $second[-1] | Should -BeExactly 'hole,zero'
            } finally {
                Stop-NbdServer -Server mapsrv -Confirm:$false
                Close-BlockDevice -Device mapped -Confirm:$false
            }
        }
    }
}
