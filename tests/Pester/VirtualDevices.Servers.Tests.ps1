#Requires -Version 7.4
# Pester 5 tests of the servers' sockets and of the error ids of listening and connecting: what Start-NbdServer and
# Start-XenstoreServer do with the file at -SocketPath (only a stale socket is replaced, and only their own socket is
# removed on stop), the ids, categories and -ErrorAction behaviour of socket, bind and connect failures and of access
# denied, what NBD clients are told an export is, -WhatIf on the server cmdlets, and build.ps1's own variables.
# Run with: Invoke-Pester ./tests/Pester/VirtualDevices.Servers.Tests.ps1 (after `dotnet build src/VirtualDevices.PowerShell`).

BeforeDiscovery {
    $nbdinfo = [bool](Get-Command nbdinfo -CommandType Application -ErrorAction SilentlyContinue)
    $python = [bool](Get-Command python3 -CommandType Application -ErrorAction SilentlyContinue)
    $mkfifo = [bool](Get-Command mkfifo -CommandType Application -ErrorAction SilentlyContinue)
}

BeforeAll {
    . (Join-Path $PSScriptRoot 'Helpers/TestHelpers.ps1')
    $ModulePath = Join-Path $PSScriptRoot '../../out/VirtualDevices/VirtualDevices.psd1'
    Import-Module $ModulePath -Force

    # A socket file nobody listens on, as a server that was killed leaves it. Not made with .NET: a .NET socket
    # unlinks the path it bound when it is disposed.
    function New-StaleSocket([string] $Path) {
        $result = Invoke-Tool python3 @('-c', 'import socket,sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])', $Path)
        $result.ExitCode | Should -Be 0
        Get-FileKind $Path | Should -Be 'socket'
    }

    # What stat(1) calls the file, without following a link: 'socket', 'regular file', 'fifo', 'symbolic link'...
    function Get-FileKind([string] $Path) { (Invoke-Tool stat @('-c', '%F', $Path)).Output.Trim() }

    # A TCP port bound but not listening: connects to it are refused, and nothing else takes it meanwhile.
    function New-RefusingPort {
        $socket = [Net.Sockets.Socket]::new('InterNetwork', 'Stream', 'Tcp')
        $socket.Bind([Net.IPEndPoint]::new([Net.IPAddress]::Loopback, 0))
        $socket
    }

    $null = New-BlockDevice -Size 1MB -Name srvdisk
}

AfterAll {
    Get-BlockDevice | Where-Object Driver -eq 'nbd' | Disconnect-NbdDevice -Confirm:$false
    Get-NbdServer | Where-Object Name -like 'srv-*' | Stop-NbdServer -Confirm:$false
    Get-XenstoreServer | Where-Object Name -like 'srv-*' | Stop-XenstoreServer -Confirm:$false
    Get-BlockDevice | Where-Object Name -eq 'srvdisk' | Close-BlockDevice -Confirm:$false
}

Describe 'The file at -SocketPath' {
    BeforeAll {
        # Starts a server of either kind; returns its error records (the server, if any, is named srv-<kind>).
        function Start-TestServer([string] $Kind, [string] $SocketPath) {
            $errors = $null
            if ($Kind -eq 'nbd') {
                $null = Start-NbdServer -Device srvdisk -SocketPath $SocketPath -Name srv-nbd -ErrorAction SilentlyContinue -ErrorVariable errors
            } else {
                $null = Start-XenstoreServer -SocketPath $SocketPath -Name srv-xs -NoConnect -ErrorAction SilentlyContinue -ErrorVariable errors
            }
            , @($errors)
        }

        function Stop-TestServer([string] $Kind) {
            if ($Kind -eq 'nbd') { Get-NbdServer | Where-Object Name -eq 'srv-nbd' | Stop-NbdServer -Confirm:$false }
            else { Get-XenstoreServer | Where-Object Name -eq 'srv-xs' | Stop-XenstoreServer -Confirm:$false }
        }

        function Test-Connect([string] $Kind, [string] $SocketPath) {
            if ($Kind -eq 'nbd') {
                $device = Connect-NbdDevice -Uri "nbd+unix:///?socket=$SocketPath"
                try { $device.Info.SizeBytes } finally { Disconnect-NbdDevice $device -Confirm:$false }
            } else {
                $client = Connect-Xenstore -SocketPath $SocketPath
                try { $client.IsConnected } finally { Disconnect-Xenstore $client -Confirm:$false }
            }
        }
    }

    AfterEach {
        Stop-TestServer nbd
        Stop-TestServer xs
    }

    It '<Kind>: a precious regular file survives byte for byte, refused with SocketPathNotSocket' -ForEach @(
        @{ Kind = 'nbd' }, @{ Kind = 'xs' }
    ) {
        $precious = Join-Path $TestDrive "precious-$Kind.img"
        $bytes = [byte[]]::new(1MB); [Random]::new(5).NextBytes($bytes)
        [IO.File]::WriteAllBytes($precious, $bytes)
        $before = Get-FileSha256 $precious

        $errors = Start-TestServer $Kind $precious

        $errors.Count | Should -Be 1
        $errors[0].FullyQualifiedErrorId | Should -BeLike 'SocketPathNotSocket,*'
        $errors[0].CategoryInfo.Category | Should -Be 'ResourceExists'
        $errors[0].Exception.Message | Should -BeLike "*$precious*a regular file*"
        (Get-Item -LiteralPath $precious).Length | Should -Be 1MB
        Get-FileSha256 $precious | Should -Be $before
        Get-FileKind $precious | Should -Be 'regular file'
        @(Get-NbdServer | Where-Object Name -eq 'srv-nbd').Count + @(Get-XenstoreServer | Where-Object Name -eq 'srv-xs').Count | Should -Be 0
    }

    It '<Kind>: a directory, a fifo and a symbolic link are refused and left as they were' -Skip:(-not $mkfifo) -ForEach @(
        @{ Kind = 'nbd' }, @{ Kind = 'xs' }
    ) {
        $dir = New-Item -ItemType Directory -Path (Join-Path $TestDrive "dir-$Kind")
        Set-Content -LiteralPath (Join-Path $dir 'inside') -Value kept
        $fifo = Join-Path $TestDrive "fifo-$Kind"
        (Invoke-Tool mkfifo @($fifo)).ExitCode | Should -Be 0
        $target = Join-Path $TestDrive "target-$Kind.img"
        Set-Content -LiteralPath $target -Value 'the target'
        $link = Join-Path $TestDrive "link-$Kind"
        $null = New-Item -ItemType SymbolicLink -Path $link -Target $target

        foreach ($path in $dir.FullName, $fifo, $link) {
            $errors = Start-TestServer $Kind $path
            $errors[0].FullyQualifiedErrorId | Should -BeLike 'SocketPathNotSocket,*'
        }

        Get-Content -LiteralPath (Join-Path $dir 'inside') | Should -Be kept
        Get-FileKind $fifo | Should -Be 'fifo'
        Get-FileKind $link | Should -Be 'symbolic link'
        Get-Content -LiteralPath $target | Should -Be 'the target'
    }

    It '<Kind>: a stale socket is replaced, and the socket is removed on stop' -Skip:(-not $python) -ForEach @(
        @{ Kind = 'nbd' }, @{ Kind = 'xs' }
    ) {
        $socket = Join-Path $TestDrive "stale-$Kind.sock"
        New-StaleSocket $socket

        $errors = Start-TestServer $Kind $socket

        $errors.Count | Should -Be 0
        Test-Connect $Kind $socket | Should -BeTrue
        Stop-TestServer $Kind
        Test-Path -LiteralPath $socket | Should -BeFalse
    }

    It '<Kind>: a socket where a server listens is refused, and that server keeps serving' -ForEach @(
        @{ Kind = 'nbd'; Id = 'NbdServerSocketInUse' }, @{ Kind = 'xs'; Id = 'XenstoreSocketInUse' }
    ) {
        $socket = Join-Path $TestDrive "live-$Kind.sock"
        (Start-TestServer $Kind $socket).Count | Should -Be 0
        $errors = $null
        if ($Kind -eq 'nbd') { Start-NbdServer -Device srvdisk -SocketPath $socket -ErrorAction SilentlyContinue -ErrorVariable errors }
        else { Start-XenstoreServer -SocketPath $socket -NoConnect -ErrorAction SilentlyContinue -ErrorVariable errors }

        $errors[0].FullyQualifiedErrorId | Should -BeLike "$Id,*"
        $errors[0].CategoryInfo.Category | Should -Be 'ResourceExists'
        Test-Connect $Kind $socket | Should -BeTrue
    }

    It '<Kind>: stop leaves a file that replaced the server''s socket' -ForEach @(
        @{ Kind = 'nbd' }, @{ Kind = 'xs' }
    ) {
        $socket = Join-Path $TestDrive "replaced-$Kind.sock"
        (Start-TestServer $Kind $socket).Count | Should -Be 0
        Remove-Item -LiteralPath $socket
        Set-Content -LiteralPath $socket -Value "someone else's"

        Stop-TestServer $Kind

        Get-Content -LiteralPath $socket | Should -Be "someone else's"
    }
}

Describe 'Error ids of listening and connecting' {
    AfterEach {
        Get-BlockDevice | Where-Object Driver -eq 'nbd' | Disconnect-NbdDevice -Confirm:$false
        Get-NbdServer | Where-Object Name -like 'srv-*' | Stop-NbdServer -Confirm:$false
        Get-XenstoreServer | Where-Object Name -like 'srv-*' | Stop-XenstoreServer -Confirm:$false
    }

    It 'a socket in a missing directory is SocketDirectoryNotFound (ObjectNotFound) for both servers, naming the directory' {
        $dir = Join-Path $TestDrive 'no/such/dir'
        Start-NbdServer -Device srvdisk -SocketPath "$dir/s.sock" -Name srv-a -ErrorAction SilentlyContinue -ErrorVariable nbd
        Start-XenstoreServer -SocketPath "$dir/x.sock" -Name srv-b -NoConnect -ErrorAction SilentlyContinue -ErrorVariable xs

        foreach ($e in $nbd[0], $xs[0]) {
            $e.FullyQualifiedErrorId | Should -BeLike 'SocketDirectoryNotFound,*'
            $e.CategoryInfo.Category | Should -Be 'ObjectNotFound'
            $e.Exception.Message | Should -BeLike "*the directory '$dir' does not exist*"
            $e.Exception.Message | Should -Not -BeLike '*Cannot assign requested address*'
        }
        @(Get-NbdServer | Where-Object Name -eq 'srv-a').Count | Should -Be 0
    }

    It 'a missing socket is SocketNotFound (ObjectNotFound), worded alike, for Connect-Xenstore and Connect-NbdDevice' {
        $missing = Join-Path $TestDrive 'nope.sock'
        Connect-Xenstore -SocketPath $missing -ErrorAction SilentlyContinue -ErrorVariable xs
        Connect-NbdDevice -Uri "nbd+unix:///?socket=$missing" -ErrorAction SilentlyContinue -ErrorVariable nbd

        foreach ($e in $xs[0], $nbd[0]) {
            $e.FullyQualifiedErrorId | Should -BeLike 'SocketNotFound,*'
            $e.CategoryInfo.Category | Should -Be 'ObjectNotFound'
            $e.Exception.Message | Should -BeLike "*the socket '$missing' does not exist (no server listens there)*"
            $e.Exception.Message | Should -Not -BeLike '*Cannot assign requested address*'
        }
    }

    It 'a socket or port where nothing listens is ConnectionRefused (ConnectionError)' -Skip:(-not $python) {
        $stale = Join-Path $TestDrive 'refused.sock'
        New-StaleSocket $stale
        $port = New-RefusingPort
        $portNumber = $port.LocalEndPoint.Port
        try {
            Connect-Xenstore -SocketPath $stale -ErrorAction SilentlyContinue -ErrorVariable xs
            Connect-NbdDevice -Uri "nbd+unix:///?socket=$stale" -ErrorAction SilentlyContinue -ErrorVariable unix
            Connect-NbdDevice -Server 127.0.0.1 -Port $portNumber -ErrorAction SilentlyContinue -ErrorVariable tcp
        } finally { $port.Dispose() }

        foreach ($e in $xs[0], $unix[0], $tcp[0]) {
            $e.FullyQualifiedErrorId | Should -BeLike 'ConnectionRefused,*'
            $e.CategoryInfo.Category | Should -Be 'ConnectionError'
        }
        $xs[0].Exception.Message | Should -BeLike "*nothing listens on the socket '$stale'*"
        $tcp[0].Exception.Message | Should -BeLike "*nothing listens on 127.0.0.1:$portNumber*"
    }

    It 'a port in use is AddressInUse (ResourceExists) and says which address and port' {
        $first = Start-NbdServer -Device srvdisk -Port 0 -Name srv-first
        $port = $first.TcpEndPoint.Port
        Start-NbdServer -Device srvdisk -Port $port -Name srv-second -ErrorAction SilentlyContinue -ErrorVariable e

        $e[0].FullyQualifiedErrorId | Should -BeLike 'AddressInUse,*'
        $e[0].CategoryInfo.Category | Should -Be 'ResourceExists'
        $e[0].Exception.Message | Should -BeLike "*127.0.0.1:$port*already in use*"
    }

    It 'an address not of this machine is AddressNotAvailable (InvalidArgument)' {
        # TEST-NET-2 (RFC 5737) is never an address of this machine.
        Start-NbdServer -Device srvdisk -Address 198.51.100.7 -Port 0 -Name srv-foreign -ErrorAction SilentlyContinue -ErrorVariable e

        $e[0].FullyQualifiedErrorId | Should -BeLike 'AddressNotAvailable,*'
        $e[0].CategoryInfo.Category | Should -Be 'InvalidArgument'
        $e[0].Exception.Message | Should -BeLike '*198.51.100.7*not one of this machine*'
    }

    It 'the errors are non-terminating, and -ErrorAction Stop and SilentlyContinue are honoured' {
        $dir = Join-Path $TestDrive 'absent'
        $reached = $false
        & { Start-NbdServer -Device srvdisk -SocketPath "$dir/s.sock" -Name srv-c 2>$null; $reached = $true; $reached } | Should -BeTrue
        { Start-NbdServer -Device srvdisk -SocketPath "$dir/s.sock" -Name srv-c -ErrorAction Stop } | Should -Throw -ErrorId 'SocketDirectoryNotFound,VirtualDevices.PowerShell.Commands.Nbd.StartNbdServerCommand'
        { Start-XenstoreServer -SocketPath "$dir/x.sock" -ErrorAction Stop } | Should -Throw -ErrorId 'SocketDirectoryNotFound,VirtualDevices.PowerShell.Commands.Xenstore.StartXenstoreServerCommand'
        { Connect-Xenstore -SocketPath "$dir/x.sock" -ErrorAction Stop } | Should -Throw -ErrorId 'SocketNotFound,VirtualDevices.PowerShell.Commands.Xenstore.ConnectXenstoreCommand'
        $countBefore = $Error.Count
        { Start-NbdServer -Device srvdisk -SocketPath "$dir/s.sock" -Name srv-c -ErrorAction SilentlyContinue } | Should -Not -Throw
        { Connect-Xenstore -SocketPath "$dir/x.sock" -ErrorAction SilentlyContinue } | Should -Not -Throw
        $Error.Count | Should -BeGreaterThan $countBefore
    }
}

Describe 'Access denied is an access-denied id, not an I/O error' {
    BeforeAll {
        # Root ignores permission bits: as root, the checks run in a child pwsh without CAP_DAC_OVERRIDE,
        # CAP_DAC_READ_SEARCH and CAP_NET_BIND_SERVICE, which then meets them as any user does; otherwise in a child pwsh.
        $IsRoot = (& id -u) -eq '0'
        $Setpriv = Get-Command setpriv -CommandType Application -ErrorAction SilentlyContinue | Select-Object -First 1
        # This PowerShell again: pwsh on PATH, or (for a host such as dotnet running pwsh.dll) the same host and dll.
        $pwshCommand = Get-Command pwsh -CommandType Application -ErrorAction SilentlyContinue | Select-Object -First 1
        $pwsh = if ($pwshCommand) { @($pwshCommand.Source) } else { @([Environment]::ProcessPath, (Join-Path $PSHOME 'pwsh.dll')) }
        $dir = Join-Path $TestDrive 'denied'
        $null = New-Item -ItemType Directory -Path $dir
        $image = Join-Path $dir 'private.img'
        [IO.File]::WriteAllBytes($image, [byte[]]::new(64KB))
        $locked = Join-Path $dir 'locked'
        $null = New-Item -ItemType Directory -Path $locked
        & chmod 000 $image
        & chmod 500 $locked
        $script = @'
param($module, $image, $locked)
Import-Module $module
$ErrorActionPreference = 'SilentlyContinue'
$results = foreach ($case in @(
    @{ Name = 'Open'; Run = { Open-BlockDevice -Path $image -Name denied-open } }
    @{ Name = 'Read'; Run = { Read-BlockDevice -Path $image -Count 1 | Out-Null } }
    @{ Name = 'Create'; Run = { New-BlockDevice -Path "$locked/new.img" -Size 1MB } }
    @{ Name = 'Serve'; Run = { Start-NbdServer -Path $image -Port 0 } }
    @{ Name = 'UnixListen'; Run = { Start-NbdServer -Device (New-BlockDevice -Size 1MB) -SocketPath "$locked/s.sock" } }
    @{ Name = 'XenstoreListen'; Run = { Start-XenstoreServer -SocketPath "$locked/x.sock" -NoConnect } }
    @{ Name = 'LowPort'; Run = { Start-NbdServer -Device (New-BlockDevice -Size 1MB) -Port 1 } }
)) {
    $Error.Clear()
    $terminating = $false
    try { & $case.Run 2>$null | Out-Null } catch { $terminating = $true }
    $record = $Error[0]
    [pscustomobject]@{ Name = $case.Name; Id = "$($record.FullyQualifiedErrorId)"; Category = "$($record.CategoryInfo.Category)"; Message = "$($record.Exception.Message)"; Terminating = $terminating }
}
$results | ConvertTo-Json -Compress
'@
        $scriptPath = Join-Path $TestDrive 'denied.ps1'
        Set-Content -LiteralPath $scriptPath -Value $script
        $arguments = @('-NoProfile', '-NonInteractive', '-File', $scriptPath, (Resolve-Path $ModulePath).Path, $image, $locked)
        $result = if ($IsRoot) {
            Invoke-Tool $Setpriv.Source (@('--inh-caps=-dac_override,-dac_read_search,-net_bind_service',
                    '--bounding-set=-dac_override,-dac_read_search,-net_bind_service') + $pwsh + $arguments) -TimeoutSeconds 120
        } else {
            Invoke-Tool $pwsh[0] (@($pwsh | Select-Object -Skip 1) + $arguments) -TimeoutSeconds 120
        }
        $result.ExitCode | Should -Be 0 -Because $result.Error
        $Denied = @{}
        foreach ($r in ($result.Output | ConvertFrom-Json)) { $Denied[$r.Name] = $r }
        $UnprivilegedPortStart = [int](Get-Content /proc/sys/net/ipv4/ip_unprivileged_port_start -ErrorAction SilentlyContinue)
    }

    AfterAll {
        & chmod 700 (Join-Path $TestDrive 'denied/locked')
        & chmod 600 (Join-Path $TestDrive 'denied/private.img')
    }

    It '<Name> is <Id> (<Category>)' -Skip:((& id -u) -eq '0' -and -not (Get-Command setpriv -ErrorAction SilentlyContinue)) -ForEach @(
        @{ Name = 'Open'; Id = 'DeviceAccessDenied'; Category = 'PermissionDenied' }
        @{ Name = 'Read'; Id = 'DeviceAccessDenied'; Category = 'PermissionDenied' }
        @{ Name = 'Create'; Id = 'DeviceAccessDenied'; Category = 'PermissionDenied' }
        @{ Name = 'Serve'; Id = 'DeviceAccessDenied'; Category = 'PermissionDenied' }
        @{ Name = 'UnixListen'; Id = 'ListenAccessDenied'; Category = 'PermissionDenied' }
        @{ Name = 'XenstoreListen'; Id = 'ListenAccessDenied'; Category = 'PermissionDenied' }
        @{ Name = 'LowPort'; Id = 'ListenAccessDenied'; Category = 'PermissionDenied' }
    ) {
        if ($Name -eq 'LowPort' -and $UnprivilegedPortStart -le 1) {
            Set-ItResult -Skipped -Because 'this machine lets anyone bind port 1 (net.ipv4.ip_unprivileged_port_start)'
            return
        }
        $Denied[$Name].Id | Should -BeLike "$Id,*"
        $Denied[$Name].Category | Should -Be $Category
        $Denied[$Name].Message | Should -Not -BeNullOrEmpty
        $Denied[$Name].Terminating | Should -BeFalse
    }
}

Describe 'What NBD clients are told an export is' {
    AfterEach {
        Get-NbdServer | Where-Object Name -like 'srv-*' | Stop-NbdServer -Confirm:$false
    }

    It 'the description of an image served from -Path names no host path (nbdinfo --list)' -Skip:(-not $nbdinfo) {
        $image = Join-Path $TestDrive 'secret-layout.img'
        [IO.File]::WriteAllBytes($image, [byte[]]::new(1MB))
        $server = Start-NbdServer -Path $image -Port 0 -Name srv-desc

        $list = Invoke-Tool nbdinfo @('--list', '--json', "nbd://127.0.0.1:$($server.TcpEndPoint.Port)")
        $list.ExitCode | Should -Be 0
        $exports = ($list.Output | ConvertFrom-Json).exports
        $exports.Count | Should -Be 2
        foreach ($export in $exports) {
            $export.description | Should -BeExactly 'secret-layout.img'
            $export.description | Should -Not -BeLike "*$TestDrive*"
        }
        $list.Output | Should -Not -BeLike "*$TestDrive*"
    }

    It 'the description of a session device is its name, and -Description replaces it' -Skip:(-not $nbdinfo) {
        $plain = Start-NbdServer -Device srvdisk -Port 0 -Name srv-plain
        $described = Start-NbdServer -Device srvdisk -Port 0 -Name srv-described -Description 'scratch disk'

        ((Invoke-Tool nbdinfo @('--list', '--json', "nbd://127.0.0.1:$($plain.TcpEndPoint.Port)")).Output | ConvertFrom-Json).exports.description |
            Sort-Object -Unique | Should -BeExactly 'srvdisk'
        ((Invoke-Tool nbdinfo @('--list', '--json', "nbd://127.0.0.1:$($described.TcpEndPoint.Port)")).Output | ConvertFrom-Json).exports.description |
            Sort-Object -Unique | Should -BeExactly 'scratch disk'
    }
}

Describe 'ShouldProcess on the server cmdlets' {
    AfterEach {
        Get-NbdServer | Where-Object Name -like 'srv-*' | Stop-NbdServer -Confirm:$false
        Get-XenstoreServer | Where-Object Name -like 'srv-*' | Stop-XenstoreServer -Confirm:$false
    }

    It 'Start-NbdServer and Start-XenstoreServer -WhatIf start nothing and create no socket' {
        $nbd = Join-Path $TestDrive 'whatif-nbd.sock'
        $xs = Join-Path $TestDrive 'whatif-xs.sock'
        Start-NbdServer -Device srvdisk -SocketPath $nbd -Name srv-w1 -WhatIf | Should -BeNullOrEmpty
        Start-XenstoreServer -SocketPath $xs -Name srv-w2 -WhatIf | Should -BeNullOrEmpty
        Test-Path -LiteralPath $nbd | Should -BeFalse
        Test-Path -LiteralPath $xs | Should -BeFalse
        @(Get-NbdServer | Where-Object Name -eq 'srv-w1').Count | Should -Be 0
        @(Get-XenstoreServer | Where-Object Name -eq 'srv-w2').Count | Should -Be 0
    }

    It 'Stop-NbdServer and Stop-XenstoreServer -WhatIf stop nothing and keep the socket' {
        $nbdSocket = Join-Path $TestDrive 'keep-nbd.sock'
        $xsSocket = Join-Path $TestDrive 'keep-xs.sock'
        $nbd = Start-NbdServer -Device srvdisk -SocketPath $nbdSocket -Name srv-k1
        $xs = Start-XenstoreServer -SocketPath $xsSocket -Name srv-k2 -NoConnect

        Stop-NbdServer srv-k1 -WhatIf
        Stop-XenstoreServer srv-k2 -WhatIf

        $nbd.IsRunning | Should -BeTrue
        $xs.IsRunning | Should -BeTrue
        Get-FileKind $nbdSocket | Should -Be 'socket'
        Get-FileKind $xsSocket | Should -Be 'socket'

        Stop-NbdServer srv-k1 -Confirm:$false
        Stop-XenstoreServer srv-k2 -Confirm:$false
        $nbd.IsRunning | Should -BeFalse
        $xs.IsRunning | Should -BeFalse
        Test-Path -LiteralPath $nbdSocket | Should -BeFalse
        Test-Path -LiteralPath $xsSocket | Should -BeFalse
    }

    It 'the four declare -WhatIf and -Confirm, and stopping a server is of medium impact' {
        foreach ($name in 'Start-NbdServer', 'Stop-NbdServer', 'Stop-XenstoreServer', 'Start-XenstoreServer') {
            (Get-Command $name).Parameters.Keys | Should -Contain 'WhatIf'
            (Get-Command $name).Parameters.Keys | Should -Contain 'Confirm'
        }
        foreach ($type in [VirtualDevices.PowerShell.Commands.Nbd.StopNbdServerCommand], [VirtualDevices.PowerShell.Commands.Xenstore.StopXenstoreServerCommand]) {
            $type.GetCustomAttributes([Management.Automation.CmdletAttribute], $false)[0].ConfirmImpact | Should -Be 'Medium'
        }
    }
}

Describe 'build.ps1' {
    It 'assigns no variable that is one of its parameters (PowerShell names are case-insensitive)' {
        $tokens = $null; $parseErrors = $null
        $ast = [Management.Automation.Language.Parser]::ParseFile((Join-Path $PSScriptRoot '../../build.ps1'), [ref] $tokens, [ref] $parseErrors)
        $parseErrors | Should -BeNullOrEmpty
        $parameters = $ast.ParamBlock.Parameters | ForEach-Object { $_.Name.VariablePath.UserPath }
        $assigned = $ast.FindAll({ param($node) $node -is [Management.Automation.Language.AssignmentStatementAst] }, $true) |
            ForEach-Object { $_.Left } |
            Where-Object { $_ -is [Management.Automation.Language.VariableExpressionAst] } |
            ForEach-Object { $_.VariablePath.UserPath }
        $clashes = @($assigned | Where-Object { $_ -in $parameters })
        $clashes | Should -BeNullOrEmpty -Because 'an assignment to a parameter variable is checked against its validation attributes'
    }
}
