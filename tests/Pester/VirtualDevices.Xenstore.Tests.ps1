#Requires -Version 7.4
# Pester 5 tests of the xenstore cmdlets (Connect-, Disconnect-Xenstore, Get-, Set-, New-, Remove-XenstoreItem,
# Get-, Set-XenstorePermission, Watch-XenstorePath, Invoke-XenstoreTransaction, Start-, Get-, Stop-XenstoreServer),
# the Xenstore provider and its Xs: drive, and the xenstore format views. Every test works on an embedded server,
# so no Xen is needed. Run with: Invoke-Pester ./tests/Pester (after `dotnet build src/VirtualDevices.PowerShell`).

BeforeDiscovery {
    # The tests with a background writer need Start-ThreadJob (shipped with PowerShell 7).
    $HasThreadJob = [bool](Get-Command -Name Start-ThreadJob -ErrorAction SilentlyContinue)
}

BeforeAll {
    . (Join-Path $PSScriptRoot 'Helpers/TestHelpers.ps1')
    $manifestPath = Join-Path $PSScriptRoot '../../out/VirtualDevices/VirtualDevices.psd1'
    Import-Module $manifestPath -Force

    # Nothing in these tests may reach a real xenstored: the host default points at a socket that does not exist.
    $savedXenstoredPath = $env:XENSTORED_PATH
    $noXenstored = Join-Path ([IO.Path]::GetTempPath()) "vd-no-xenstored-$PID.sock"
    $env:XENSTORED_PATH = $noXenstored

    # A unix socket path in the test drive (short enough for sun_path).
    function New-SocketPath([string] $Name) {
        Join-Path $TestDrive "$Name.sock"
    }

    Reset-XenstoreSession
}

AfterAll {
    Reset-XenstoreSession
    $env:XENSTORED_PATH = $savedXenstoredPath
}

Describe 'Start-XenstoreServer' {
    BeforeEach {
        Reset-XenstoreSession
    }

    AfterEach {
        Reset-XenstoreSession
    }

    It 'starts a running server on -SocketPath, registered under -Name' {
        $socket = New-SocketPath 'start1'
        $server = Start-XenstoreServer -SocketPath $socket -Name start1

        $server.GetType().FullName | Should -Be 'VirtualDevices.Xen.Xenstore.Server.XenstoreServer'
        $server.Name | Should -Be 'start1'
        $server.SocketPath | Should -Be $socket
        $server.IsRunning | Should -BeTrue
        Test-Path -LiteralPath $socket | Should -BeTrue
        (Get-XenstoreServer -Name start1).SocketPath | Should -Be $socket
    }

    It 'gives default names xenstoreN, a new number for each server' {
        $first = Start-XenstoreServer -SocketPath (New-SocketPath 'default1')
        $second = Start-XenstoreServer -SocketPath (New-SocketPath 'default2')

        $first.Name | Should -Match '^xenstore\d+$'
        $second.Name | Should -Match '^xenstore\d+$'
        [int]($second.Name -replace '^xenstore') | Should -BeGreaterThan ([int]($first.Name -replace '^xenstore'))
        (Get-XenstoreServer).Name -join ',' | Should -Be "$($first.Name),$($second.Name)"
    }

    It 'creates a socket in the runtime or temporary directory by default' {
        $server = Start-XenstoreServer
        $server.SocketPath | Should -Match 'vd-xenstore-\d+-[0-9a-f]{8}\.sock$'
        Test-Path -LiteralPath $server.SocketPath | Should -BeTrue
    }

    It 'becomes the session''s xenstore when the session has none' {
        Start-XenstoreServer -SocketPath (New-SocketPath 'session') | Out-Null
        Set-XenstoreItem -Path /started -Value yes
        (Get-XenstoreItem -Path /started).Value | Should -Be 'yes'
    }

    It 'says so with -Verbose' {
        $records = Start-XenstoreServer -SocketPath (New-SocketPath 'verbose') -Verbose 4>&1
        $messages = @($records | Where-Object { $_ -is [System.Management.Automation.VerboseRecord] } | ForEach-Object Message)
        $messages -join "`n" | Should -Match 'now talks to xenstore server'
    }

    It 'leaves the session''s xenstore alone with -NoConnect' {
        # -Verbose also shows ShouldProcess's "Performing the operation ..." message: count only the session's.
        $connects = { $_ -is [System.Management.Automation.VerboseRecord] -and $_.Message -match 'now talks to xenstore server' }
        $quietRecords = @(Start-XenstoreServer -SocketPath (New-SocketPath 'quiet') -Name quiet -NoConnect -Verbose 4>&1)
        $quiet = $quietRecords | Where-Object { $_ -isnot [System.Management.Automation.VerboseRecord] }
        @($quietRecords | Where-Object $connects).Count | Should -Be 0
        $records = Start-XenstoreServer -SocketPath (New-SocketPath 'loud') -Name loud -Verbose 4>&1
        $loudConnects = @($records | Where-Object $connects)
        $loudConnects.Count | Should -Be 1
        $loudConnects[0].Message | Should -Match "'loud'"

        # The session's xenstore is the second server: a node written through it is not in the first.
        Set-XenstoreItem -Path /marker -Value loud
        Connect-Xenstore -Server $quiet | Out-Null
        { Get-XenstoreItem -Path /marker -ErrorAction Stop } | Should -Throw -ErrorId 'XenstoreNotFound,*'
    }

    It 'does not replace the session''s xenstore' {
        $first = Start-XenstoreServer -SocketPath (New-SocketPath 'first') -Name first
        Set-XenstoreItem -Path /which -Value first
        Start-XenstoreServer -SocketPath (New-SocketPath 'second') -Name second | Out-Null
        (Get-XenstoreItem -Path /which).Value | Should -Be 'first'
    }

    It 'starts an empty store: only the root, owned by dom0' {
        Start-XenstoreServer -SocketPath (New-SocketPath 'empty') | Out-Null
        $root = Get-XenstoreItem -Path /
        $root.Children.Count | Should -Be 0
        (Get-XenstorePermission -Path /).Text | Should -Be 'n0'
    }

    It 'fails with ServiceNameInUse for a name already used, keeping the first server' {
        $first = Start-XenstoreServer -SocketPath (New-SocketPath 'dup1') -Name dup
        $secondSocket = New-SocketPath 'dup2'

        { Start-XenstoreServer -SocketPath $secondSocket -Name dup -ErrorAction Stop } |
            Should -Throw -ErrorId 'ServiceNameInUse,VirtualDevices.PowerShell.Commands.Xenstore.StartXenstoreServerCommand'
        @(Get-XenstoreServer -Name dup).Count | Should -Be 1
        $first.IsRunning | Should -BeTrue
        Test-Path -LiteralPath $secondSocket | Should -BeFalse
    }

    It 'ignores the case of names when checking for duplicates' {
        Start-XenstoreServer -SocketPath (New-SocketPath 'case1') -Name CaseName | Out-Null
        { Start-XenstoreServer -SocketPath (New-SocketPath 'case2') -Name casename -ErrorAction Stop } |
            Should -Throw -ErrorId 'ServiceNameInUse,*'
    }

    It 'refuses a name with characters outside [A-Za-z0-9_.-]' {
        { Start-XenstoreServer -SocketPath (New-SocketPath 'badname') -Name 'bad name' } |
            Should -Throw -ErrorId 'ParameterArgumentValidationError*'
    }

    It 'fails with SocketDirectoryNotFound in a directory that does not exist' {
        $socket = Join-Path $TestDrive 'no-such-dir/xs.sock'
        { Start-XenstoreServer -SocketPath $socket -ErrorAction Stop } | Should -Throw -ErrorId 'SocketDirectoryNotFound,*'
        @(Get-XenstoreServer).Count | Should -Be 0
    }

    It 'starts nothing with -WhatIf' {
        $socket = New-SocketPath 'whatif'
        Start-XenstoreServer -SocketPath $socket -Name whatif -WhatIf | Should -BeNullOrEmpty
        Test-Path -LiteralPath $socket | Should -BeFalse
        @(Get-XenstoreServer).Count | Should -Be 0
    }

    It 'shows a server with the XenstoreServer table view' {
        $socket = New-SocketPath 'view'
        Start-XenstoreServer -SocketPath $socket -Name viewed | Out-Null
        $text = Get-XenstoreServer -Name viewed | Format-Table | Out-String -Width 250
        $text | Should -Match 'Name\s+Running\s+Connections\s+SocketPath'
        $text | Should -Match 'viewed\s+True\s+1\s+'
        $text | Should -Match ([regex]::Escape($socket))
    }
}

Describe 'Get-XenstoreServer' {
    BeforeAll {
        Reset-XenstoreSession
        $alpha = Start-XenstoreServer -SocketPath (New-SocketPath 'alpha') -Name alpha
        $beta = Start-XenstoreServer -SocketPath (New-SocketPath 'beta') -Name beta -NoConnect
        $other = Start-XenstoreServer -SocketPath (New-SocketPath 'other') -Name other -NoConnect
    }

    AfterAll {
        Reset-XenstoreSession
    }

    It 'lists every server of the session in the order they were started' {
        (Get-XenstoreServer).Name -join ',' | Should -Be 'alpha,beta,other'
    }

    It 'selects servers by name, with wildcards and ignoring case' {
        (Get-XenstoreServer -Name '?eta', 'ALPHA').Name -join ',' | Should -Be 'beta,alpha'
        (Get-XenstoreServer -Name 'a*').Name | Should -Be 'alpha'
    }

    It 'writes the same server objects that Start-XenstoreServer wrote' {
        [object]::ReferenceEquals((Get-XenstoreServer -Name beta).psobject.BaseObject, $beta.psobject.BaseObject) | Should -BeTrue
    }

    It 'counts the connections of each server' {
        # alpha has the session's in-process connection; beta has none.
        (Get-XenstoreServer -Name alpha).ConnectionCount | Should -Be 1
        (Get-XenstoreServer -Name beta).ConnectionCount | Should -Be 0
    }

    It 'writes nothing and no error for a wildcard that matches nothing' {
        @(Get-XenstoreServer -Name 'zz*' -ErrorAction Stop).Count | Should -Be 0
    }

    It 'fails with ServiceNotFound for a name that is not in use, and still returns the other matches' {
        { Get-XenstoreServer -Name nosuch -ErrorAction Stop } |
            Should -Throw -ErrorId 'ServiceNotFound,VirtualDevices.PowerShell.Commands.Xenstore.GetXenstoreServerCommand'

        $found = Get-XenstoreServer -Name nosuch, other -ErrorAction SilentlyContinue -ErrorVariable failure
        $found.Name | Should -Be 'other'
        $failure.Count | Should -Be 1
        $failure[0].Exception.ErrorId | Should -Be 'ServiceNotFound'
    }
}

Describe 'Stop-XenstoreServer' {
    BeforeEach {
        Reset-XenstoreSession
    }

    AfterEach {
        Reset-XenstoreSession
    }

    It 'stops a server given by name: it no longer runs, is no longer listed, and its socket file is gone' {
        $socket = New-SocketPath 'stop1'
        $server = Start-XenstoreServer -SocketPath $socket -Name stop1

        Stop-XenstoreServer -Server stop1 | Should -BeNullOrEmpty

        $server.IsRunning | Should -BeFalse
        Test-Path -LiteralPath $socket | Should -BeFalse
        @(Get-XenstoreServer -Name 'stop*').Count | Should -Be 0
    }

    It 'stops a server given by object, in the first position' {
        $server = Start-XenstoreServer -SocketPath (New-SocketPath 'stop2') -NoConnect
        Stop-XenstoreServer $server
        $server.IsRunning | Should -BeFalse
    }

    It 'stops the servers piped from Get-XenstoreServer' {
        $a = Start-XenstoreServer -SocketPath (New-SocketPath 'pipe1') -Name pipe1
        $b = Start-XenstoreServer -SocketPath (New-SocketPath 'pipe2') -Name pipe2
        Get-XenstoreServer | Stop-XenstoreServer
        $a.IsRunning | Should -BeFalse
        $b.IsRunning | Should -BeFalse
        @(Get-XenstoreServer).Count | Should -Be 0
    }

    It 'stops nothing with -WhatIf' {
        $socket = New-SocketPath 'kept'
        $server = Start-XenstoreServer -SocketPath $socket -Name kept
        Stop-XenstoreServer -Server kept -WhatIf
        $server.IsRunning | Should -BeTrue
        Test-Path -LiteralPath $socket | Should -BeTrue
        (Get-XenstoreServer -Name kept).Name | Should -Be 'kept'
    }

    It 'closes the connections to the server, and the session forgets its in-process connection' {
        $server = Start-XenstoreServer -SocketPath (New-SocketPath 'closes') -Name closes
        $client = Connect-Xenstore -Server $server
        $client.IsConnected | Should -BeTrue

        Stop-XenstoreServer -Server $server

        $client.IsConnected | Should -BeFalse
        # The session has no xenstore any more: the next server becomes it.
        $next = Start-XenstoreServer -SocketPath (New-SocketPath 'next') -Name next
        Set-XenstoreItem -Path /after -Value stop
        (Get-XenstoreItem -Path /after).Value | Should -Be 'stop'
        $next.ConnectionCount | Should -Be 1
    }

    It 'frees the name for a new server' {
        Start-XenstoreServer -SocketPath (New-SocketPath 'reuse1') -Name reuse | Out-Null
        Stop-XenstoreServer -Server reuse
        { Start-XenstoreServer -SocketPath (New-SocketPath 'reuse2') -Name reuse -ErrorAction Stop } | Should -Not -Throw
    }

    It 'refuses a name that is not in use' {
        # A non-terminating XenstoreServerNotFound error, so -ErrorAction Stop makes it terminating.
        { Stop-XenstoreServer -Server nosuch -ErrorAction Stop } | Should -Throw -ErrorId 'XenstoreServerNotFound,*'
    }
}

Describe 'Connect-Xenstore and Disconnect-Xenstore' {
    BeforeAll {
        Reset-XenstoreSession
        $socket = New-SocketPath 'connect'
        $server = Start-XenstoreServer -SocketPath $socket -Name connect -NoConnect
    }

    AfterEach {
        Disconnect-Xenstore -Confirm:$false
        $env:XENSTORED_PATH = $noXenstored
    }

    AfterAll {
        Reset-XenstoreSession
    }

    It 'connects in-process to a server given by object, as dom0' {
        $client = Connect-Xenstore -Server $server
        $client.GetType().FullName | Should -Be 'VirtualDevices.Xen.Xenstore.Client.XenstoreClient'
        $client.Endpoint | Should -Be 'in-process:dom0'
        $client.IsConnected | Should -BeTrue
        Set-XenstoreItem -Path /connected -Value dom0
        (Get-XenstoreItem -Path /connected).Value | Should -Be 'dom0'
    }

    It 'connects to a server given by name, or piped' {
        (Connect-Xenstore -Server connect).Endpoint | Should -Be 'in-process:dom0'
        ($server | Connect-Xenstore).Endpoint | Should -Be 'in-process:dom0'
        (Get-XenstoreServer -Name connect | Connect-Xenstore).Endpoint | Should -Be 'in-process:dom0'
    }

    It 'speaks for another domain with -DomainId' {
        (Connect-Xenstore -Server $server -DomainId 5).Endpoint | Should -Be 'in-process:dom5'
    }

    It 'connects through the server''s unix socket with -SocketPath' {
        $client = Connect-Xenstore -SocketPath $socket
        $client.Endpoint | Should -Be $socket
        $client.IsConnected | Should -BeTrue

        Set-XenstoreItem -Path /through-socket -Value yes
        Connect-Xenstore -Server $server | Out-Null
        (Get-XenstoreItem -Path /through-socket).Value | Should -Be 'yes'
    }

    It 'takes the socket as the first positional parameter' {
        (Connect-Xenstore $socket).Endpoint | Should -Be $socket
    }

    It 'connects to the socket named by XENSTORED_PATH without parameters' {
        $env:XENSTORED_PATH = $socket
        (Connect-Xenstore).Endpoint | Should -Be $socket
    }

    It 'uses XENSTORED_PATH when the session has no xenstore, and keeps that connection' {
        Connect-Xenstore -Server $server | Out-Null
        Set-XenstoreItem -Path /host-default -Value found
        Disconnect-Xenstore

        $env:XENSTORED_PATH = $socket
        (Get-XenstoreItem -Path /host-default).Value | Should -Be 'found'
        # That connection is now the session's: later commands use it without looking at XENSTORED_PATH again.
        $env:XENSTORED_PATH = $noXenstored
        (Get-XenstoreItem -Path /host-default).Value | Should -Be 'found'
    }

    It 'fails with XenstoreNotConnected when the session has no xenstore and the host has none' {
        { Get-XenstoreItem -Path / -ErrorAction Stop } |
            Should -Throw -ErrorId 'XenstoreNotConnected,VirtualDevices.PowerShell.Commands.Xenstore.GetXenstoreItemCommand'
    }

    It 'fails with SocketNotFound for a socket that does not exist, keeping the previous connection' {
        $previous = Connect-Xenstore -Server $server
        { Connect-Xenstore -SocketPath (Join-Path $TestDrive 'nobody.sock') -ErrorAction Stop } |
            Should -Throw -ErrorId 'SocketNotFound,VirtualDevices.PowerShell.Commands.Xenstore.ConnectXenstoreCommand'
        $previous.IsConnected | Should -BeTrue
        { Get-XenstoreItem -Path / -ErrorAction Stop } | Should -Not -Throw
    }

    It 'refuses a -Server name that is not in use' {
        { Connect-Xenstore -Server nosuch -ErrorAction Stop } | Should -Throw -ErrorId 'XenstoreServerNotFound,*'
    }

    It 'refuses a negative -DomainId' {
        { Connect-Xenstore -Server $server -DomainId -1 } | Should -Throw -ErrorId 'ParameterArgumentValidationError*'
    }

    It 'keeps the previous connection open and usable with -Store' {
        $first = Connect-Xenstore -Server $server -DomainId 0
        $second = Connect-Xenstore -SocketPath $socket
        $first.IsConnected | Should -BeTrue
        $second.IsConnected | Should -BeTrue
        Set-XenstoreItem -Path /kept -Value yes -Store $first
        (Get-XenstoreItem -Path /kept).Value | Should -Be 'yes'
        Disconnect-Xenstore -Store $first -Confirm:$false
        $first.IsConnected | Should -BeFalse
        { Get-XenstoreItem -Path /kept -Store $first -ErrorAction Stop } | Should -Throw -ErrorId 'DeviceDisconnected,*'
    }

    It 'Disconnect-Xenstore closes the session''s connection' {
        $client = Connect-Xenstore -Server $server
        Disconnect-Xenstore | Should -BeNullOrEmpty
        $client.IsConnected | Should -BeFalse
        { Get-XenstoreItem -Path / -ErrorAction Stop } | Should -Throw -ErrorId 'XenstoreNotConnected,*'
    }

    It 'Disconnect-Xenstore closes a piped connection' {
        $client = Connect-Xenstore -Server $server
        $client | Disconnect-Xenstore
        $client.IsConnected | Should -BeFalse
    }

    It 'Disconnect-Xenstore -Store closes that connection' {
        $client = Connect-Xenstore -SocketPath $socket
        Disconnect-Xenstore -Store $client
        $client.IsConnected | Should -BeFalse
    }

    It 'Disconnect-Xenstore closes nothing with -WhatIf' {
        $client = Connect-Xenstore -Server $server
        Disconnect-Xenstore -WhatIf
        $client.IsConnected | Should -BeTrue
        { Get-XenstoreItem -Path / -ErrorAction Stop } | Should -Not -Throw
    }

    It 'Disconnect-Xenstore does nothing, without an error, when the session has no xenstore' {
        Disconnect-Xenstore
        { Disconnect-Xenstore -ErrorAction Stop } | Should -Not -Throw
    }

    It 'Disconnect-Xenstore leaves the embedded server running' {
        Connect-Xenstore -Server $server | Out-Null
        Disconnect-Xenstore
        $server.IsRunning | Should -BeTrue
    }

    It 'shows a connection with the XenstoreClient table view' {
        $text = Connect-Xenstore -SocketPath $socket | Format-Table | Out-String -Width 250
        $text | Should -Match 'Connected\s+Reconnects\s+Endpoint'
        $text | Should -Match ('(?m)^True\s+0\s+' + [regex]::Escape($socket))
    }
}

Describe 'Get-XenstoreItem' {
    BeforeAll {
        Reset-XenstoreSession
        $server = Start-XenstoreServer -SocketPath (New-SocketPath 'get')
        Set-XenstoreItem -Path /g/a -Value 1
        Set-XenstoreItem -Path /g/a/x -Value 2
        Set-XenstoreItem -Path /g/b -Value 3
        Set-XenstoreItem -Path /local/domain/0/name -Value Domain-0
    }

    AfterAll {
        Reset-XenstoreSession
    }

    It 'gets a node: path, name, value, bytes and children' {
        $item = Get-XenstoreItem -Path /g/a

        $item.GetType().FullName | Should -Be 'VirtualDevices.Xen.Xenstore.XenstoreItem'
        $item.NodePath | Should -Be '/g/a'
        $item.Name | Should -Be 'a'
        $item.Value | Should -Be '1'
        $item.Bytes.Length | Should -Be 1
        $item.Bytes[0] | Should -Be 49
        @($item.Children) | Should -Be @('x')
        $item.HasChildren | Should -BeTrue
    }

    It 'gets a node whose value is empty: the parents created along the way' {
        $item = Get-XenstoreItem -Path /g
        $item.Value | Should -Be ''
        @($item.Children) -join ',' | Should -Be 'a,b'
    }

    It 'gets the root' {
        $root = Get-XenstoreItem -Path /
        $root.NodePath | Should -Be '/'
        @($root.Children) | Should -Contain 'g'
        @($root.Children) | Should -Contain 'local'
    }

    It 'gets the whole subtree with -Recurse, depth first and in name order' {
        (Get-XenstoreItem -Path /g -Recurse).NodePath -join ',' | Should -Be '/g,/g/a,/g/a/x,/g/b'
    }

    It 'limits -Recurse with -Depth' {
        (Get-XenstoreItem -Path /g -Recurse -Depth 0).NodePath -join ',' | Should -Be '/g'
        (Get-XenstoreItem -Path /g -Recurse -Depth 1).NodePath -join ',' | Should -Be '/g,/g/a,/g/b'
        (Get-XenstoreItem -Path /g -Recurse -Depth 2).NodePath -join ',' | Should -Be '/g,/g/a,/g/a/x,/g/b'
    }

    It 'gets only the node itself without -Recurse' {
        @(Get-XenstoreItem -Path /g).Count | Should -Be 1
    }

    It 'accepts paths of the Xs: drive' {
        (Get-XenstoreItem -Path Xs:/g/a).NodePath | Should -Be '/g/a'
        (Get-XenstoreItem -Path 'Xs:\g\b').Value | Should -Be '3'
    }

    It 'ignores a trailing slash' {
        (Get-XenstoreItem -Path /g/a/).NodePath | Should -Be '/g/a'
    }

    It 'resolves relative paths under the home of the connection''s domain (dom0)' {
        $item = Get-XenstoreItem -Path name
        $item.Value | Should -Be 'Domain-0'
        $item.NodePath | Should -Be 'name'
    }

    It 'gets several paths, given as an array or piped' {
        (Get-XenstoreItem -Path /g/a, /g/b).Value -join ',' | Should -Be '1,3'
        ('/g/b', '/g/a' | Get-XenstoreItem).Value -join ',' | Should -Be '3,1'
    }

    It 'binds the Path property of piped objects' {
        ([pscustomobject]@{ Path = '/g/a/x' } | Get-XenstoreItem).Value | Should -Be '2'
    }

    It 'fails with XenstoreNotFound for a missing node' {
        { Get-XenstoreItem -Path /g/missing -ErrorAction Stop } |
            Should -Throw -ErrorId 'XenstoreNotFound,VirtualDevices.PowerShell.Commands.Xenstore.GetXenstoreItemCommand'
    }

    It 'writes a non-terminating error for a missing node and goes on with the next path' {
        $found = Get-XenstoreItem -Path /g/missing, /g/b -ErrorAction SilentlyContinue -ErrorVariable failure
        $found.NodePath | Should -Be '/g/b'
        $failure.Count | Should -Be 1
        $failure[0].Exception.ErrorId | Should -Be 'XenstoreNotFound'
        $failure[0].CategoryInfo.Category.ToString() | Should -Be 'ObjectNotFound'
        $failure[0].TargetObject | Should -Be '/g/missing'
    }

    It 'fails with XenstoreInvalidArgument for a path with characters xenstore does not allow' {
        { Get-XenstoreItem -Path '/g/bad name' -ErrorAction Stop } | Should -Throw -ErrorId 'XenstoreInvalidArgument,*'
    }

    It 'shows nodes with the XenstoreItem table view' {
        $text = Get-XenstoreItem -Path /g/a | Format-Table | Out-String -Width 250
        $text | Should -Match 'NodePath\s+Children\s+Value'
        $text | Should -Match '/g/a\s+1\s+1'
    }
}

Describe 'Set-XenstoreItem' {
    BeforeAll {
        Reset-XenstoreSession
        $server = Start-XenstoreServer -SocketPath (New-SocketPath 'set')
    }

    AfterAll {
        Reset-XenstoreSession
    }

    It 'writes a value, creating the node and its parents, and writes nothing' {
        Set-XenstoreItem -Path /s/new/leaf -Value hello | Should -BeNullOrEmpty
        (Get-XenstoreItem -Path /s/new/leaf).Value | Should -Be 'hello'
        (Get-XenstoreItem -Path /s/new).Value | Should -Be ''
    }

    It 'overwrites a value, keeping the children' {
        Set-XenstoreItem -Path /s/keep/child -Value c
        Set-XenstoreItem -Path /s/keep -Value parent
        $item = Get-XenstoreItem -Path /s/keep
        $item.Value | Should -Be 'parent'
        @($item.Children) | Should -Be @('child')
    }

    It 'takes the path and the value as positional parameters' {
        Set-XenstoreItem /s/positional 42
        (Get-XenstoreItem /s/positional).Value | Should -Be '42'
    }

    It 'writes an empty value' {
        Set-XenstoreItem -Path /s/empty -Value ''
        (Get-XenstoreItem -Path /s/empty).Bytes.Length | Should -Be 0
    }

    It 'writes text as UTF-8' {
        Set-XenstoreItem -Path /s/utf8 -Value 'é'
        $item = Get-XenstoreItem -Path /s/utf8
        $item.Value | Should -Be 'é'
        $item.Bytes.Length | Should -Be 2
    }

    It 'writes raw bytes with -Bytes' {
        Set-XenstoreItem -Path /s/bytes -Bytes ([byte[]](0, 1, 255))
        $bytes = (Get-XenstoreItem -Path /s/bytes).Bytes
        $bytes.Length | Should -Be 3
        $bytes[2] | Should -Be 255
    }

    It 'writes the node after the change with -PassThru' {
        $item = Set-XenstoreItem -Path /s/passthru -Value shown -PassThru
        $item.GetType().FullName | Should -Be 'VirtualDevices.Xen.Xenstore.XenstoreItem'
        $item.NodePath | Should -Be '/s/passthru'
        $item.Value | Should -Be 'shown'
    }

    It 'writes a relative path under /local/domain/0' {
        Set-XenstoreItem -Path relative/node -Value r
        (Get-XenstoreItem -Path /local/domain/0/relative/node).Value | Should -Be 'r'
    }

    It 'accepts paths of the Xs: drive' {
        Set-XenstoreItem -Path Xs:/s/drive -Value d
        (Get-XenstoreItem -Path /s/drive).Value | Should -Be 'd'
    }

    It 'binds the Path of items piped from Get-XenstoreItem, with -Value on the command line' {
        Set-XenstoreItem -Path /s/pipe/a -Value old
        Set-XenstoreItem -Path /s/pipe/b -Value old
        Get-XenstoreItem -Path /s/pipe/a, /s/pipe/b | Set-XenstoreItem -Value new
        (Get-XenstoreItem -Path /s/pipe/a, /s/pipe/b).Value -join ',' | Should -Be 'new,new'
    }

    It 'binds the Path and Value properties of piped objects' {
        @(
            [pscustomobject]@{ Path = '/s/csv/memory'; Value = '1024' }
            [pscustomobject]@{ Path = '/s/csv/vcpus'; Value = '2' }
        ) | Set-XenstoreItem
        (Get-XenstoreItem -Path /s/csv -Recurse -Depth 1 | Select-Object -Skip 1).Value -join ',' | Should -Be '1024,2'
    }

    It 'writes nothing with -WhatIf' {
        Set-XenstoreItem -Path /s/whatif -Value x -WhatIf
        { Get-XenstoreItem -Path /s/whatif -ErrorAction Stop } | Should -Throw -ErrorId 'XenstoreNotFound,*'
    }

    It 'fails with XenstoreTooBig for a value over the 4096-byte limit, writing nothing' {
        { Set-XenstoreItem -Path /s/big -Value ('x' * 5000) -ErrorAction Stop } |
            Should -Throw -ErrorId 'XenstoreTooBig,VirtualDevices.PowerShell.Commands.Xenstore.SetXenstoreItemCommand'
        { Get-XenstoreItem -Path /s/big -ErrorAction Stop } | Should -Throw -ErrorId 'XenstoreNotFound,*'
    }

    It 'fails with XenstoreInvalidArgument for a malformed path' {
        { Set-XenstoreItem -Path '/s/a b' -Value x -ErrorAction Stop } | Should -Throw -ErrorId 'XenstoreInvalidArgument,*'
    }
}

Describe 'New-XenstoreItem' {
    BeforeAll {
        Reset-XenstoreSession
        $server = Start-XenstoreServer -SocketPath (New-SocketPath 'new')
    }

    AfterAll {
        Reset-XenstoreSession
    }

    It 'creates an empty node with its parents and writes it' {
        $item = New-XenstoreItem -Path /n/dir/sub
        $item.GetType().FullName | Should -Be 'VirtualDevices.Xen.Xenstore.XenstoreItem'
        $item.NodePath | Should -Be '/n/dir/sub'
        $item.Value | Should -Be ''
        (Get-XenstoreItem -Path /n/dir).Children | Should -Be 'sub'
    }

    It 'creates a node with -Value' {
        (New-XenstoreItem -Path /n/valued -Value v).Value | Should -Be 'v'
        (Get-XenstoreItem -Path /n/valued).Value | Should -Be 'v'
    }

    It 'takes the value as the second positional parameter' {
        (New-XenstoreItem /n/positional p).Value | Should -Be 'p'
    }

    It 'creates several nodes, given as an array or piped' {
        New-XenstoreItem -Path /n/many/1, /n/many/2 -Value m | Out-Null
        '/n/many/3', '/n/many/4' | New-XenstoreItem -Value m | Out-Null
        @((Get-XenstoreItem -Path /n/many).Children) -join ',' | Should -Be '1,2,3,4'
    }

    It 'fails with XenstoreExists for a node that exists, leaving its value' {
        New-XenstoreItem -Path /n/exists -Value first | Out-Null
        { New-XenstoreItem -Path /n/exists -Value second -ErrorAction Stop } |
            Should -Throw -ErrorId 'XenstoreExists,VirtualDevices.PowerShell.Commands.Xenstore.NewXenstoreItemCommand'
        { New-XenstoreItem -Path /n/exists -ErrorAction Stop } | Should -Throw -ErrorId 'XenstoreExists,*'
        (Get-XenstoreItem -Path /n/exists).Value | Should -Be 'first'
    }

    It 'writes a non-terminating XenstoreExists error and goes on with the next path' {
        New-XenstoreItem -Path /n/half/old | Out-Null
        $created = New-XenstoreItem -Path /n/half/old, /n/half/new -ErrorAction SilentlyContinue -ErrorVariable failure
        $created.NodePath | Should -Be '/n/half/new'
        $failure.Count | Should -Be 1
        $failure[0].Exception.ErrorId | Should -Be 'XenstoreExists'
        $failure[0].CategoryInfo.Category.ToString() | Should -Be 'ResourceExists'
    }

    It 'overwrites the value of an existing node with -Force -Value' {
        New-XenstoreItem -Path /n/force -Value first | Out-Null
        (New-XenstoreItem -Path /n/force -Value second -Force).Value | Should -Be 'second'
        (Get-XenstoreItem -Path /n/force).Value | Should -Be 'second'
    }

    It 'leaves an existing node as it is with -Force and no -Value' {
        New-XenstoreItem -Path /n/forcekeep -Value kept | Out-Null
        (New-XenstoreItem -Path /n/forcekeep -Force).Value | Should -Be 'kept'
    }

    It 'creates nothing with -WhatIf' {
        New-XenstoreItem -Path /n/whatif -Value x -WhatIf | Should -BeNullOrEmpty
        { Get-XenstoreItem -Path /n/whatif -ErrorAction Stop } | Should -Throw -ErrorId 'XenstoreNotFound,*'
    }
}

Describe 'Remove-XenstoreItem' {
    BeforeAll {
        Reset-XenstoreSession
        $server = Start-XenstoreServer -SocketPath (New-SocketPath 'remove')
    }

    AfterAll {
        Reset-XenstoreSession
    }

    It 'removes a node without children and writes nothing' {
        Set-XenstoreItem -Path /r/leaf -Value x
        Remove-XenstoreItem -Path /r/leaf | Should -BeNullOrEmpty
        { Get-XenstoreItem -Path /r/leaf -ErrorAction Stop } | Should -Throw -ErrorId 'XenstoreNotFound,*'
    }

    It 'fails with XenstoreItemHasChildren for a node with children, removing nothing' {
        Set-XenstoreItem -Path /r/tree/a -Value 1
        Set-XenstoreItem -Path /r/tree/b -Value 2

        { Remove-XenstoreItem -Path /r/tree -ErrorAction Stop } |
            Should -Throw -ErrorId 'XenstoreItemHasChildren,VirtualDevices.PowerShell.Commands.Xenstore.RemoveXenstoreItemCommand'
        (Get-XenstoreItem -Path /r/tree -Recurse).NodePath -join ',' | Should -Be '/r/tree,/r/tree/a,/r/tree/b'
    }

    It 'removes a node with its subtree with -Recurse' {
        Set-XenstoreItem -Path /r/sub/a/deep -Value 1
        Set-XenstoreItem -Path /r/sub/b -Value 2
        Remove-XenstoreItem -Path /r/sub -Recurse
        { Get-XenstoreItem -Path /r/sub -ErrorAction Stop } | Should -Throw -ErrorId 'XenstoreNotFound,*'
        (Get-XenstoreItem -Path /r).Children | Should -Not -Contain 'sub'
    }

    It 'fails with XenstoreNotFound for a missing node' {
        { Remove-XenstoreItem -Path /r/missing -ErrorAction Stop } | Should -Throw -ErrorId 'XenstoreNotFound,*'
    }

    It 'removes the items piped from Get-XenstoreItem' {
        Set-XenstoreItem -Path /r/p/a -Value 1
        Set-XenstoreItem -Path /r/p/b -Value 2
        Set-XenstoreItem -Path /r/p/c -Value 3
        Get-XenstoreItem -Path /r/p/a, /r/p/c | Remove-XenstoreItem
        @((Get-XenstoreItem -Path /r/p).Children) | Should -Be @('b')
    }

    It 'removes piped strings and accepts Xs: paths' {
        Set-XenstoreItem -Path /r/s/a -Value 1
        Set-XenstoreItem -Path /r/s/b -Value 2
        'Xs:/r/s/a', '/r/s/b' | Remove-XenstoreItem
        @((Get-XenstoreItem -Path /r/s).Children).Count | Should -Be 0
    }

    It 'removes nothing with -WhatIf' {
        Set-XenstoreItem -Path /r/whatif/a -Value 1
        Remove-XenstoreItem -Path /r/whatif -Recurse -WhatIf
        (Get-XenstoreItem -Path /r/whatif/a).Value | Should -Be '1'
    }
}

Describe 'Get-XenstorePermission and Set-XenstorePermission' {
    BeforeAll {
        Reset-XenstoreSession
        $server = Start-XenstoreServer -SocketPath (New-SocketPath 'perm')
    }

    AfterAll {
        Reset-XenstoreSession
    }

    It 'gets the permissions of a node: new nodes inherit those of the root, owned by dom0' {
        Set-XenstoreItem -Path /perm/plain -Value x
        $permissions = Get-XenstorePermission -Path /perm/plain

        $permissions.GetType().FullName | Should -Be 'VirtualDevices.Xen.Xenstore.XenstoreItemPermissions'
        $permissions.NodePath | Should -Be '/perm/plain'
        $permissions.Owner | Should -Be 0
        $permissions.DefaultAccess.ToString() | Should -Be 'None'
        $permissions.Text | Should -Be 'n0'
    }

    It 'sets permissions given as separate entries, and reads them back' {
        Set-XenstoreItem -Path /perm/shared -Value x
        Set-XenstorePermission -Path /perm/shared -Permission n0, r5 | Should -BeNullOrEmpty

        $permissions = Get-XenstorePermission -Path /perm/shared
        $permissions.Text | Should -Be 'n0 r5'
        $permissions.Owner | Should -Be 0
        $permissions.DefaultAccess.ToString() | Should -Be 'None'
        $permissions.Permissions.Entries.Count | Should -Be 2
        $permissions.Permissions.AccessFor(5).ToString() | Should -Be 'Read'
        $permissions.Permissions.AccessFor(6).ToString() | Should -Be 'None'
    }

    It 'sets permissions given in one string, and writes them with -PassThru' {
        Set-XenstoreItem -Path /perm/onestring -Value x
        $permissions = Set-XenstorePermission -Path /perm/onestring -Permission 'b7 r5' -PassThru
        $permissions.Text | Should -Be 'b7 r5'
        $permissions.Owner | Should -Be 7
        $permissions.DefaultAccess.ToString() | Should -Be 'Both'
    }

    It 'takes the path and the permissions as positional parameters' {
        Set-XenstoreItem -Path /perm/positional -Value x
        Set-XenstorePermission /perm/positional n0, w3
        (Get-XenstorePermission /perm/positional).Text | Should -Be 'n0 w3'
    }

    It 'gives new nodes the permissions of their closest existing ancestor' {
        New-XenstoreItem -Path /perm/parent | Out-Null
        Set-XenstorePermission -Path /perm/parent -Permission n0, r5
        New-XenstoreItem -Path /perm/parent/child/grandchild | Out-Null
        (Get-XenstorePermission -Path /perm/parent/child/grandchild).Text | Should -Be 'n0 r5'
    }

    It 'binds the Path of items piped from Get-XenstoreItem' {
        Set-XenstoreItem -Path /perm/tree/a -Value 1
        Set-XenstoreItem -Path /perm/tree/b -Value 2
        Get-XenstoreItem -Path /perm/tree -Recurse | Set-XenstorePermission -Permission n0, r9
        (Get-XenstoreItem -Path /perm/tree -Recurse | Get-XenstorePermission).Text | Should -Be @('n0 r9', 'n0 r9', 'n0 r9')
    }

    It 'changes nothing with -WhatIf' {
        Set-XenstoreItem -Path /perm/whatif -Value x
        Set-XenstorePermission -Path /perm/whatif -Permission n0, r5 -WhatIf
        (Get-XenstorePermission -Path /perm/whatif).Text | Should -Be 'n0'
    }

    It 'stops with InvalidArgument for an entry that is not a permission' {
        Set-XenstoreItem -Path /perm/invalid -Value x
        { Set-XenstorePermission -Path /perm/invalid -Permission n0, x9 } |
            Should -Throw -ErrorId 'InvalidArgument,VirtualDevices.PowerShell.Commands.Xenstore.SetXenstorePermissionCommand'
        (Get-XenstorePermission -Path /perm/invalid).Text | Should -Be 'n0'
    }

    It 'fails with XenstoreNotFound for a missing node' {
        { Get-XenstorePermission -Path /perm/missing -ErrorAction Stop } | Should -Throw -ErrorId 'XenstoreNotFound,*'
        { Set-XenstorePermission -Path /perm/missing -Permission n0 -ErrorAction Stop } | Should -Throw -ErrorId 'XenstoreNotFound,*'
    }

    It 'shows permissions with the XenstoreItemPermissions table view' {
        Set-XenstoreItem -Path /perm/view -Value x
        Set-XenstorePermission -Path /perm/view -Permission n0, r5
        $text = Get-XenstorePermission -Path /perm/view | Format-Table | Out-String -Width 250
        $text | Should -Match 'NodePath\s+Owner\s+Others\s+Permissions'
        $text | Should -Match '/perm/view\s+0\s+None\s+n0 r5'
    }

    Context 'Isolation between domains' {
        BeforeAll {
            Connect-Xenstore -Server $server | Out-Null
            Set-XenstoreItem -Path /iso/secret -Value s
            Set-XenstorePermission -Path /iso/secret -Permission n0
            Set-XenstoreItem -Path /iso/readable -Value r
            Set-XenstorePermission -Path /iso/readable -Permission n0, r5
            # The home of domain 5, which it owns: nodes created below it inherit that.
            New-XenstoreItem -Path /local/domain/5 | Out-Null
            Set-XenstorePermission -Path /local/domain/5 -Permission n5
        }

        BeforeEach {
            Connect-Xenstore -Server $server -DomainId 5 | Out-Null
        }

        AfterEach {
            Connect-Xenstore -Server $server | Out-Null
        }

        It 'refuses domain 5 a node only dom0 may read: XenstoreAccessDenied' {
            { Get-XenstoreItem -Path /iso/secret -ErrorAction Stop } |
                Should -Throw -ErrorId 'XenstoreAccessDenied,VirtualDevices.PowerShell.Commands.Xenstore.GetXenstoreItemCommand'
            { Get-XenstorePermission -Path /iso/secret -ErrorAction Stop } | Should -Throw -ErrorId 'XenstoreAccessDenied,*'
        }

        It 'reports the category PermissionDenied' {
            Get-XenstoreItem -Path /iso/secret -ErrorAction SilentlyContinue -ErrorVariable failure
            $failure[0].CategoryInfo.Category.ToString() | Should -Be 'PermissionDenied'
        }

        It 'refuses domain 5 to learn whether a node exists where it may not read' {
            { Get-XenstoreItem -Path /iso/secret/nothing -ErrorAction Stop } | Should -Throw -ErrorId 'XenstoreAccessDenied,*'
        }

        It 'lets domain 5 read a node it has read access to, but not write it' {
            (Get-XenstoreItem -Path /iso/readable).Value | Should -Be 'r'
            { Set-XenstoreItem -Path /iso/readable -Value changed -ErrorAction Stop } | Should -Throw -ErrorId 'XenstoreAccessDenied,*'
            { Set-XenstorePermission -Path /iso/readable -Permission b5 -ErrorAction Stop } | Should -Throw -ErrorId 'XenstoreAccessDenied,*'
        }

        It 'resolves relative paths of domain 5 under /local/domain/5, where it owns what it creates' {
            Set-XenstoreItem -Path data/x -Value 1
            (Get-XenstoreItem -Path data/x).Value | Should -Be '1'
            (Get-XenstorePermission -Path data/x).Owner | Should -Be 5

            Connect-Xenstore -Server $server | Out-Null
            (Get-XenstoreItem -Path /local/domain/5/data/x).Value | Should -Be '1'
        }

        It 'lets dom0 read everything' {
            Connect-Xenstore -Server $server | Out-Null
            (Get-XenstoreItem -Path /iso/secret).Value | Should -Be 's'
        }
    }
}

Describe 'Watch-XenstorePath' {
    BeforeAll {
        Reset-XenstoreSession
        $socket = New-SocketPath 'watch'
        $server = Start-XenstoreServer -SocketPath $socket
        Set-XenstoreItem -Path /w/node -Value 1
        Set-XenstoreItem -Path /be/state -Value 4
    }

    AfterAll {
        Reset-XenstoreSession
    }

    It 'writes the event xenstore fires on registration at once: -Count 1' {
        $events = @(Watch-XenstorePath -Path /w -Count 1 -Timeout 10)

        $events.Count | Should -Be 1
        $events[0].GetType().FullName | Should -Be 'VirtualDevices.Xen.Xenstore.XenstoreChange'
        $events[0].NodePath | Should -Be '/w'
        $events[0].Token | Should -Not -BeNullOrEmpty
        $events[0].Exists | Should -BeNullOrEmpty
        $events[0].Value | Should -BeNullOrEmpty
        $events[0].Timestamp | Should -BeGreaterThan ([DateTimeOffset]::Now.AddMinutes(-1))
    }

    It 'includes the value of the node with -IncludeValue' {
        $change = Watch-XenstorePath -Path /w/node -IncludeValue -Count 1 -Timeout 10
        $change.Exists | Should -BeTrue
        $change.Value | Should -Be '1'
    }

    It 'fires for a node that does not exist, with Exists False' {
        $change = Watch-XenstorePath -Path /w/absent -IncludeValue -Count 1 -Timeout 10
        $change.NodePath | Should -Be '/w/absent'
        $change.Exists | Should -BeFalse
        $change.Value | Should -BeNullOrEmpty
    }

    It 'writes one registration event for each path' {
        $events = @(Watch-XenstorePath -Path /w, /be -Count 2 -Timeout 10)
        ($events.NodePath | Sort-Object) -join ',' | Should -Be '/be,/w'
    }

    It 'ends quietly after -Timeout, having seen only the registration event; earlier writes do not count' {
        Set-XenstoreItem -Path /w/node -Value 2
        Set-XenstoreItem -Path /w/node -Value 3
        $watch = [Diagnostics.Stopwatch]::StartNew()
        $events = @(Watch-XenstorePath -Path /w -Timeout 0.5 -ErrorAction Stop)
        $watch.Stop()

        $events.Count | Should -Be 1
        $events[0].NodePath | Should -Be '/w'
        $watch.Elapsed.TotalSeconds | Should -BeGreaterOrEqual 0.4
        $watch.Elapsed.TotalSeconds | Should -BeLessThan 10
    }

    It 'stops when a later command has what it needs' {
        $watch = [Diagnostics.Stopwatch]::StartNew()
        $change = Watch-XenstorePath -Path /w -Timeout 30 | Select-Object -First 1
        $watch.Stop()
        $change.NodePath | Should -Be '/w'
        $watch.Elapsed.TotalSeconds | Should -BeLessThan 10
    }

    It 'returns at once with -UntilValue when the node has that value already' {
        $watch = [Diagnostics.Stopwatch]::StartNew()
        $events = @(Watch-XenstorePath -Path /be/state -UntilValue 4 -Timeout 10)
        $watch.Stop()

        $events.Count | Should -Be 1
        $events[0].NodePath | Should -Be '/be/state'
        $events[0].Exists | Should -BeTrue
        $events[0].Value | Should -Be '4'
        $watch.Elapsed.TotalSeconds | Should -BeLessThan 5
    }

    It 'accepts a path of the Xs: drive with -UntilValue' {
        (Watch-XenstorePath -Path Xs:/be/state -UntilValue 4 -Timeout 10).NodePath | Should -Be '/be/state'
    }

    It 'fails with XenstoreWaitTimeout when -UntilValue does not happen within -Timeout' {
        $watch = [Diagnostics.Stopwatch]::StartNew()
        { Watch-XenstorePath -Path /be/state -UntilValue 9 -Timeout 0.5 -ErrorAction Stop } |
            Should -Throw -ErrorId 'XenstoreWaitTimeout,VirtualDevices.PowerShell.Commands.Xenstore.WatchXenstorePathCommand'
        $watch.Stop()
        $watch.Elapsed.TotalSeconds | Should -BeLessThan 10
    }

    It 'writes nothing but the error when the wait times out' {
        $events = @(Watch-XenstorePath -Path /be/state -UntilValue 9 -Timeout 0.5 -ErrorAction SilentlyContinue -ErrorVariable failure)
        $events.Count | Should -Be 0
        $failure.Count | Should -Be 1
        $failure[0].CategoryInfo.Category.ToString() | Should -Be 'OperationTimeout'
    }

    It 'waits with -Until for an event the script block accepts; $_ has the value' {
        $change = Watch-XenstorePath -Path /be -Until { $_.NodePath -eq '/be/state' -and $_.Value -eq '4' } -Timeout 0.5 -ErrorAction SilentlyContinue
        # The registration event is for /be itself, which the condition rejects; nothing else changes.
        $change | Should -BeNullOrEmpty

        $change = Watch-XenstorePath -Path /be/state -Until { $_.Exists -and $_.Value -eq '4' } -Timeout 10
        $change.Value | Should -Be '4'
    }

    It 'fails with XenstoreWaitTimeout when -Until never holds' {
        { Watch-XenstorePath -Path /be/state -Until { $false } -Timeout 0.5 -ErrorAction Stop } |
            Should -Throw -ErrorId 'XenstoreWaitTimeout,*'
    }

    It 'watches the special path @releaseDomain' {
        (Watch-XenstorePath -Path '@releaseDomain' -Count 1 -Timeout 10).NodePath | Should -Be '@releaseDomain'
    }

    It 'binds the NodePath property of a piped object' {
        (Get-XenstoreItem -Path /w/node | Watch-XenstorePath -Count 1 -Timeout 10).NodePath | Should -Be '/w/node'
    }

    It 'fails with XenstoreInvalidArgument for a malformed path' {
        { Watch-XenstorePath -Path '/w/bad path' -Count 1 -Timeout 5 -ErrorAction Stop } |
            Should -Throw -ErrorId 'XenstoreInvalidArgument,*'
    }

    It 'refuses -Count with -UntilValue' {
        { Watch-XenstorePath -Path /w -Count 1 -UntilValue 1 } | Should -Throw -ErrorId 'AmbiguousParameterSet*'
    }

    It 'shows events with the XenstoreChange table view' {
        $text = Watch-XenstorePath -Path /be/state -IncludeValue -Count 1 -Timeout 10 | Format-Table | Out-String -Width 250
        $text | Should -Match 'Time\s+Exists\s+NodePath\s+Value'
        # The time separator depends on the culture.
        $text | Should -Match '\d\d\D\d\d\D\d\d\.\d{6}\s+True\s+/be/state\s+4'
    }

    Context 'With a background writer' -Skip:(-not $HasThreadJob) {
        BeforeAll {
            # A thread job connects through the server's socket and writes /w/n = 1..40, one every 100 ms.
            $writer = {
                param($ManifestPath, $SocketPath, $Path, $Values)
                Import-Module $ManifestPath
                Connect-Xenstore -SocketPath $SocketPath | Out-Null
                try {
                    foreach ($value in $Values) {
                        Set-XenstoreItem -Path $Path -Value $value
                        Start-Sleep -Milliseconds 100
                    }
                }
                finally {
                    Disconnect-Xenstore -Confirm:$false
                }
            }
        }

        AfterEach {
            if ($job) {
                $job | Wait-Job -Timeout 15 | Out-Null
                $job | Remove-Job -Force
                $job = $null
            }
        }

        It 'writes an event for each change, after the registration event' {
            $job = Start-ThreadJob -ScriptBlock $writer -ArgumentList $manifestPath, $socket, '/w/n', (1..40)
            $events = @(Watch-XenstorePath -Path /w -IncludeValue -Count 3 -Timeout 20)

            $events.Count | Should -Be 3
            $events[0].NodePath | Should -Be '/w'
            $events[1].NodePath | Should -Be '/w/n'
            $events[2].NodePath | Should -Be '/w/n'
            $events[1].Exists | Should -BeTrue
            $events[1].Value | Should -Match '^\d+$'
        }

        It 'waits with -UntilValue until the writer reaches the value' {
            $job = Start-ThreadJob -ScriptBlock $writer -ArgumentList $manifestPath, $socket, '/w/state', (1..6)
            $change = Watch-XenstorePath -Path /w/state -UntilValue 6 -Timeout 20
            $change.NodePath | Should -Be '/w/state'
            $change.Value | Should -Be '6'
        }
    }
}

Describe 'Invoke-XenstoreTransaction' {
    BeforeAll {
        Reset-XenstoreSession
        $server = Start-XenstoreServer -SocketPath (New-SocketPath 'tx')
    }

    AfterAll {
        Reset-XenstoreSession
    }

    It 'commits the writes of the script block at once: nothing is visible outside before the commit' {
        $seen = Invoke-XenstoreTransaction {
            $Transaction.Write('/atomic/a', '1')
            $Transaction.Write('/atomic/b', '2')
            # A read outside the transaction, on the same connection: the writes are not there yet.
            @(Get-XenstoreItem -Path /atomic -ErrorAction SilentlyContinue).Count
        }

        $seen | Should -Be 0
        (Get-XenstoreItem -Path /atomic/a, /atomic/b).Value -join ',' | Should -Be '1,2'
    }

    It 'writes the output of the script block' {
        Invoke-XenstoreTransaction { 'one'; 'two' } | Should -Be @('one', 'two')
    }

    It 'gives the transaction as $Transaction and as the first argument' {
        $result = Invoke-XenstoreTransaction {
            param($tx)
            $tx -is [VirtualDevices.PowerShell.Commands.Xenstore.XenstoreTransactionScope]
            $args.Count
            $tx.Id -eq $Transaction.Id
            $Transaction.Id -gt 0
            $Transaction.Attempt
        }
        $result | Should -Be @($true, 0, $true, $true, 1)
    }

    It 'gives the transaction as $args[0] without a param block' {
        Invoke-XenstoreTransaction { $args[0].Id -eq $Transaction.Id } | Should -BeTrue
    }

    It 'offers the requests of a transaction as methods' {
        Set-XenstoreItem -Path /methods/existing -Value old
        $result = Invoke-XenstoreTransaction {
            $Transaction.MakeDirectory('/methods/dir')
            $Transaction.Write('/methods/value', 'v')
            $Transaction.Read('/methods/value')
            $null -eq $Transaction.TryRead('/methods/missing')
            $Transaction.Exists('/methods/dir')
            $Transaction.Exists('/methods/missing')
            ($Transaction.List('/methods') | Sort-Object) -join ','
            $Transaction.Remove('/methods/existing')
            $Transaction.SetPermissions('/methods/value', 'n0 r5')
            $Transaction.GetPermissions('/methods/value')
        }

        $result | Should -Be @('v', $true, $true, $false, 'dir,existing,value', 'n0 r5')
        (Get-XenstoreItem -Path /methods).Children -join ',' | Should -Be 'dir,value'
        (Get-XenstorePermission -Path /methods/value).Text | Should -Be 'n0 r5'
    }

    It 'resolves relative paths under /local/domain/0' {
        Invoke-XenstoreTransaction { $Transaction.Write('txrel', 'r') }
        (Get-XenstoreItem -Path /local/domain/0/txrel).Value | Should -Be 'r'
    }

    It 'increments a counter' {
        1..3 | ForEach-Object {
            Invoke-XenstoreTransaction {
                $next = [int]$Transaction.TryRead('/counter') + 1
                $Transaction.Write('/counter', $next)
                $next
            }
        } | Should -Be @(1, 2, 3)
        (Get-XenstoreItem -Path /counter).Value | Should -Be '3'
    }

    It 'runs the script block again after a conflict, and writes only the output of the run that committed' {
        Set-XenstoreItem -Path /conflict -Value 10
        $output = Invoke-XenstoreTransaction {
            $value = [int]$Transaction.Read('/conflict')
            if ($Transaction.Attempt -eq 1) {
                # A change outside the transaction to the node it read: its commit conflicts.
                Set-XenstoreItem -Path /conflict -Value 20
            }
            $Transaction.Write('/conflict', $value + 1)
            "attempt $($Transaction.Attempt) read $value"
        }

        $output | Should -Be 'attempt 2 read 20'
        (Get-XenstoreItem -Path /conflict).Value | Should -Be '21'
    }

    It 'fails with XenstoreTransactionConflict when every attempt conflicts, writing nothing' {
        Set-XenstoreItem -Path /always -Value 0
        $output = Invoke-XenstoreTransaction -MaxAttempts 2 {
            $null = $Transaction.Read('/always')
            Set-XenstoreItem -Path /always -Value "outside $($Transaction.Attempt)"
            $Transaction.Write('/always-tx', 'x')
            'not written'
        } -ErrorAction SilentlyContinue -ErrorVariable failure

        $output | Should -BeNullOrEmpty
        $failure.Count | Should -Be 1
        $failure[0].FullyQualifiedErrorId | Should -BeLike 'XenstoreTransactionConflict,*'
        (Get-XenstoreItem -Path /always).Value | Should -Be 'outside 2'
        { Get-XenstoreItem -Path /always-tx -ErrorAction Stop } | Should -Throw -ErrorId 'XenstoreNotFound,*'
    }

    It 'aborts on a throw in the script block: nothing is written, and the error is reported' {
        { Invoke-XenstoreTransaction { $Transaction.Write('/thrown', '1'); 'partial'; throw 'boom' } -ErrorAction Stop } |
            Should -Throw -ExpectedMessage 'boom'
        { Get-XenstoreItem -Path /thrown -ErrorAction Stop } | Should -Throw -ErrorId 'XenstoreNotFound,*'
    }

    It 'reports a throw as a non-terminating error, without output' {
        $output = Invoke-XenstoreTransaction { 'partial'; throw 'boom' } -ErrorAction SilentlyContinue -ErrorVariable failure
        $output | Should -BeNullOrEmpty
        $failure.Count | Should -Be 1
        $failure[0].Exception.Message | Should -Be 'boom'
    }

    It 'aborts when a request in the script block fails' {
        { Invoke-XenstoreTransaction { $Transaction.Write('/failed', '1'); $Transaction.Read('/no/such/node') } -ErrorAction Stop } |
            Should -Throw -ExpectedMessage '*ENOENT*'
        { Get-XenstoreItem -Path /failed -ErrorAction Stop } | Should -Throw -ErrorId 'XenstoreNotFound,*'
    }

    It 'does not run the script block with -WhatIf' {
        Invoke-XenstoreTransaction { $Transaction.Write('/whatif', '1'); 'ran' } -WhatIf | Should -BeNullOrEmpty
        { Get-XenstoreItem -Path /whatif -ErrorAction Stop } | Should -Throw -ErrorId 'XenstoreNotFound,*'
    }

    It 'refuses -MaxAttempts 0' {
        { Invoke-XenstoreTransaction { } -MaxAttempts 0 } | Should -Throw -ErrorId 'ParameterArgumentValidationError*'
    }
}

Describe 'The Xenstore provider and the Xs: drive' {
    BeforeAll {
        Reset-XenstoreSession
        $socket = New-SocketPath 'drive'
        $server = Start-XenstoreServer -SocketPath $socket
        Set-XenstoreItem -Path /d/a -Value 1
        Set-XenstoreItem -Path /d/a/x -Value 2
        Set-XenstoreItem -Path /d/b -Value 3
        Set-XenstoreItem -Path /local/domain/0/name -Value Domain-0
        Set-XenstoreItem -Path /local/domain/5/name -Value guest5
    }

    AfterAll {
        Reset-XenstoreSession
    }

    It 'registers the Xenstore provider with the default drive Xs: at the root' {
        $drive = Get-PSDrive -Name Xs
        $drive.Provider.Name | Should -Be 'Xenstore'
        $drive.Root | Should -Be '{Xs}/'
        (Get-PSProvider -PSProvider Xenstore).Drives.Name | Should -Contain 'Xs'
    }

    It 'Get-ChildItem lists the children of a node as XenstoreItem objects' {
        $items = Get-ChildItem -Path Xs:/d
        $items.NodePath -join ',' | Should -Be '/d/a,/d/b'
        $items[0].GetType().FullName | Should -Be 'VirtualDevices.Xen.Xenstore.XenstoreItem'
        $items.Value -join ',' | Should -Be '1,3'
        $items[0].PSIsContainer | Should -BeTrue
        $items[0].PSChildName | Should -Be 'a'
        $items[0].PSPath | Should -BeLike '*Xenstore::{Xs}/d/a'
    }

    It 'Get-ChildItem lists the root' {
        (Get-ChildItem -Path Xs:/).Name | Should -Contain 'd'
        (Get-ChildItem -Path Xs:/).Name | Should -Contain 'local'
    }

    It 'Get-ChildItem -Recurse lists the subtree, and -Depth limits it' {
        (Get-ChildItem -Path Xs:/d -Recurse).NodePath -join ',' | Should -Be '/d/a,/d/a/x,/d/b'
        (Get-ChildItem -Path Xs:/d -Depth 0).NodePath -join ',' | Should -Be '/d/a,/d/b'
    }

    It 'Get-ChildItem -Name writes the names of the children' {
        Get-ChildItem -Path Xs:/d -Name | Should -Be @('a', 'b')
    }

    It 'Get-Item gets a node' {
        $item = Get-Item -Path Xs:/d/a
        $item.NodePath | Should -Be '/d/a'
        $item.Value | Should -Be '1'
        @($item.Children) | Should -Be @('x')
    }

    It 'Get-Item accepts backslashes' {
        (Get-Item -Path 'Xs:\d\b').Value | Should -Be '3'
    }

    It 'Get-Item expands wildcards' {
        (Get-Item -Path Xs:/local/domain/*/name).Value -join ',' | Should -Be 'Domain-0,guest5'
    }

    It 'Get-Item fails with PathNotFound for a missing node' {
        { Get-Item -Path Xs:/d/missing -ErrorAction Stop } | Should -Throw -ErrorId 'PathNotFound,*'
    }

    It 'Test-Path tells whether a node exists' {
        Test-Path -Path Xs:/ | Should -BeTrue
        Test-Path -Path Xs:/d/a | Should -BeTrue
        Test-Path -Path Xs:/d/a/x | Should -BeTrue
        Test-Path -Path Xs:/d/missing | Should -BeFalse
        Test-Path -Path Xs:/d/a -PathType Container | Should -BeTrue
    }

    It 'Set-Location moves into the drive, where relative paths follow the current location' {
        Push-Location -Path Xs:/d
        try {
            (Get-Location).Path | Should -Match '^Xs:[\\/]d$'
            (Get-ChildItem).NodePath -join ',' | Should -Be '/d/a,/d/b'
            (Get-Item -Path a).Value | Should -Be '1'
            (Get-Item -Path a/x).Value | Should -Be '2'
        }
        finally {
            Pop-Location
        }
    }

    It 'Set-Item writes a value and writes nothing' {
        Set-Item -Path Xs:/d/set -Value first | Should -BeNullOrEmpty
        (Get-XenstoreItem -Path /d/set).Value | Should -Be 'first'
        Set-Item -Path Xs:/d/set -Value second
        (Get-XenstoreItem -Path /d/set).Value | Should -Be 'second'
    }

    It 'Set-Item -PassThru writes the node after the change' {
        (Set-Item -Path Xs:/d/set -Value third -PassThru).Value | Should -Be 'third'
    }

    It 'Set-Item changes nothing with -WhatIf' {
        Set-XenstoreItem -Path /d/setwhatif -Value kept
        Set-Item -Path Xs:/d/setwhatif -Value changed -WhatIf
        (Get-XenstoreItem -Path /d/setwhatif).Value | Should -Be 'kept'
    }

    It 'Clear-Item empties the value' {
        Set-XenstoreItem -Path /d/clear -Value something
        Clear-Item -Path Xs:/d/clear
        (Get-XenstoreItem -Path /d/clear).Value | Should -Be ''
    }

    It 'New-Item creates a node with -Value, and an empty node without' {
        $item = New-Item -Path Xs:/d/new/valued -Value v
        $item.NodePath | Should -Be '/d/new/valued'
        $item.Value | Should -Be 'v'
        (New-Item -Path Xs:/d/new/empty).Value | Should -Be ''
        (Get-XenstoreItem -Path /d/new).Children -join ',' | Should -Be 'empty,valued'
    }

    It 'New-Item fails with XenstoreExists for an existing node, unless -Force' {
        New-Item -Path Xs:/d/newexists -Value first | Out-Null
        { New-Item -Path Xs:/d/newexists -Value second -ErrorAction Stop } | Should -Throw -ErrorId 'XenstoreExists,*'
        (Get-XenstoreItem -Path /d/newexists).Value | Should -Be 'first'

        (New-Item -Path Xs:/d/newexists -Value second -Force).Value | Should -Be 'second'
    }

    It 'New-Item creates nothing with -WhatIf' {
        New-Item -Path Xs:/d/newwhatif -Value x -WhatIf | Should -BeNullOrEmpty
        Test-Path -Path Xs:/d/newwhatif | Should -BeFalse
    }

    It 'Remove-Item removes a node without children' {
        Set-XenstoreItem -Path /d/rm/leaf -Value x
        Remove-Item -Path Xs:/d/rm/leaf
        Test-Path -Path Xs:/d/rm/leaf | Should -BeFalse
    }

    It 'Remove-Item -Recurse removes a subtree' {
        Set-XenstoreItem -Path /d/rmtree/a/b -Value x
        Set-XenstoreItem -Path /d/rmtree/c -Value y
        Remove-Item -Path Xs:/d/rmtree -Recurse
        Test-Path -Path Xs:/d/rmtree | Should -BeFalse
    }

    It 'Remove-Item removes nothing with -WhatIf' {
        Set-XenstoreItem -Path /d/rmwhatif/a -Value x
        Remove-Item -Path Xs:/d/rmwhatif -Recurse -WhatIf
        Test-Path -Path Xs:/d/rmwhatif/a | Should -BeTrue
    }

    It 'Get-Content reads the value as one string' {
        Set-XenstoreItem -Path /d/content -Value "line1`nline2"
        $content = @(Get-Content -Path Xs:/d/content)
        $content.Count | Should -Be 1
        $content[0] | Should -Be "line1`nline2"
    }

    It 'Get-Content reads the items piped from Get-ChildItem' {
        Get-ChildItem -Path Xs:/d/a | Get-Content | Should -Be '2'
    }

    It 'Set-Content replaces the value, joining lines with line feeds' {
        Set-XenstoreItem -Path /d/setcontent -Value old
        Set-Content -Path Xs:/d/setcontent -Value new
        (Get-XenstoreItem -Path /d/setcontent).Value | Should -Be 'new'

        Set-Content -Path Xs:/d/setcontent -Value 'l1', 'l2'
        (Get-XenstoreItem -Path /d/setcontent).Value | Should -Be "l1`nl2"
    }

    It 'Set-Content creates a missing node' {
        Set-Content -Path Xs:/d/setcontentnew -Value created
        (Get-XenstoreItem -Path /d/setcontentnew).Value | Should -Be 'created'
    }

    It 'Set-Content changes nothing with -WhatIf' {
        Set-XenstoreItem -Path /d/contentwhatif -Value kept
        Set-Content -Path Xs:/d/contentwhatif -Value changed -WhatIf
        (Get-XenstoreItem -Path /d/contentwhatif).Value | Should -Be 'kept'
    }

    It 'Add-Content appends lines after a line feed' {
        Set-XenstoreItem -Path /d/addcontent -Value first
        Add-Content -Path Xs:/d/addcontent -Value second
        (Get-XenstoreItem -Path /d/addcontent).Value | Should -Be "first`nsecond"
    }

    It 'Clear-Content empties the value' {
        Set-XenstoreItem -Path /d/clearcontent -Value something
        Clear-Content -Path Xs:/d/clearcontent
        (Get-XenstoreItem -Path /d/clearcontent).Value | Should -Be ''
    }

    It 'writes the XenstoreExists error of the store with its id' {
        New-Item -Path Xs:/d/errid -Value x | Out-Null
        New-Item -Path Xs:/d/errid -Value y -ErrorAction SilentlyContinue -ErrorVariable failure | Out-Null
        $failure.Count | Should -Be 1
        $failure[0].FullyQualifiedErrorId | Should -BeLike 'XenstoreExists,*'
        $failure[0].Exception.ErrorId | Should -Be 'XenstoreExists'
    }

    It 'the items of the drive bind to the xenstore cmdlets by their Path' {
        Set-XenstoreItem -Path /d/cross/a -Value 1
        Set-XenstoreItem -Path /d/cross/b -Value 2
        Get-ChildItem -Path Xs:/d/cross | Remove-XenstoreItem
        Test-Path -Path Xs:/d/cross/a | Should -BeFalse
        Test-Path -Path Xs:/d/cross/b | Should -BeFalse
    }

    It 'follows the session''s xenstore' {
        $other = Start-XenstoreServer -SocketPath (New-SocketPath 'follow') -Name follow -NoConnect
        try {
            Connect-Xenstore -Server $other | Out-Null
            Test-Path -Path Xs:/d | Should -BeFalse
            Connect-Xenstore -Server $server | Out-Null
            Test-Path -Path Xs:/d | Should -BeTrue
        }
        finally {
            Connect-Xenstore -Server $server | Out-Null
            Stop-XenstoreServer -Server $other -Confirm:$false
        }
    }

    It 'completes node names with Tab' {
        Set-XenstoreItem -Path /tabone -Value 1
        Set-XenstoreItem -Path /tabtwo -Value 2
        $completions = Get-Completion 'Get-ChildItem Xs:/tab' -Sort
        $completions.Count | Should -Be 2
        $completions[0] | Should -Match '^Xs:[\\/]tabone[\\/]?$'
        $completions[1] | Should -Match '^Xs:[\\/]tabtwo[\\/]?$'
    }

    It 'completes the children of a node with Tab' {
        $completions = Get-Completion 'Get-Item Xs:/d/' -Sort
        @($completions | Where-Object { $_ -match '^Xs:[\\/]d[\\/]a[\\/]?$' }).Count | Should -Be 1
        @($completions | Where-Object { $_ -match '^Xs:[\\/]d[\\/]b[\\/]?$' }).Count | Should -Be 1
    }

    Context 'New-PSDrive' {
        It 'creates a drive on another xenstore with -SocketPath; Remove-PSDrive closes its connection' {
            $otherSocket = New-SocketPath 'otherdrive'
            $other = Start-XenstoreServer -SocketPath $otherSocket -Name otherdrive -NoConnect
            try {
                $drive = New-PSDrive -Name Xt -PSProvider Xenstore -Root / -SocketPath $otherSocket
                $drive | Should -BeOfType ([VirtualDevices.PowerShell.Providers.XenstoreDriveInfo])
                $drive.Root | Should -Be '{Xt}/'
                $drive.OwnsStore | Should -BeTrue
                $drive.Store.Endpoint | Should -Be $otherSocket

                New-Item -Path Xt:/only-other -Value here | Out-Null
                (Get-ChildItem -Path Xt:/).Name | Should -Be 'only-other'
                Get-Content -Path Xt:/only-other | Should -Be 'here'
                Test-Path -Path Xs:/only-other | Should -BeFalse
                Test-Path -Path Xt:/d | Should -BeFalse

                # Items listed on the drive go back to the drive's xenstore, through the provider and through the cmdlets.
                Set-XenstoreItem -Path Xt:/piped -Value 1
                Get-ChildItem -Path Xt:/ | Where-Object Name -eq 'piped' | Remove-Item
                Test-Path -Path Xt:/piped | Should -BeFalse
                Set-XenstoreItem -Path Xt:/piped2 -Value 2
                Get-XenstoreItem -Path Xt:/piped2 | Remove-XenstoreItem -Confirm:$false
                Test-Path -Path Xt:/piped2 | Should -BeFalse
                Test-Path -Path Xs:/piped2 | Should -BeFalse

                Remove-PSDrive -Name Xt
                $drive.Store.IsConnected | Should -BeFalse
            }
            finally {
                Get-PSDrive -Name Xt -ErrorAction SilentlyContinue | Remove-PSDrive
                Stop-XenstoreServer -Server $other -Confirm:$false
            }
        }

        It 'creates a drive on the session''s xenstore without -SocketPath' {
            try {
                New-PSDrive -Name Xu -PSProvider Xenstore -Root / | Out-Null
                (Get-Item -Path Xu:/d/a).Value | Should -Be '1'
            }
            finally {
                Get-PSDrive -Name Xu -ErrorAction SilentlyContinue | Remove-PSDrive
            }
        }

        It 'roots a drive at the node given with -Root' {
            try {
                New-PSDrive -Name Xr -PSProvider Xenstore -Root /d | Out-Null
                (Get-Item -Path Xr:/a).Value | Should -Be '1'
                (Get-ChildItem -Path Xr:/).Name -contains 'a' | Should -BeTrue
            }
            finally {
                Get-PSDrive -Name Xr -ErrorAction SilentlyContinue | Remove-PSDrive
            }
        }

        It 'creates a drive on a connection given with -Store, which it does not close' {
            $client = Connect-Xenstore -Server $server
            try {
                $drive = New-PSDrive -Name Xv -PSProvider Xenstore -Root / -Store $client
                $drive.OwnsStore | Should -BeFalse
                (Get-Item -Path Xv:/d/b).Value | Should -Be '3'
                Remove-PSDrive -Name Xv
                $client.IsConnected | Should -BeTrue
            }
            finally {
                Get-PSDrive -Name Xv -ErrorAction SilentlyContinue | Remove-PSDrive
            }
        }

        It 'creates no drive when nothing listens on -SocketPath' {
            { New-PSDrive -Name Xw -PSProvider Xenstore -Root / -SocketPath (Join-Path $TestDrive 'nobody.sock') -ErrorAction Stop } |
                Should -Throw
            Get-PSDrive -Name Xw -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
        }
    }
}
