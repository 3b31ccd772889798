#Requires -Version 7.4
# Pester 5 tests of the loopback hypervisor's cmdlets as users call them: Start-, Get- and Stop-XenLoopbackHypervisor
# (names, pipeline, -WhatIf, -ErrorAction, the file at -SocketPath left intact), Join-XenLoopbackHypervisor and
# Get-/Disconnect-XenLoopbackDomain (this session as a domain, hosted and closed with its session), the listings
# Get-XenDomain, Get-XenGrant and Get-XenEventChannel after a second pwsh process joined as domain 1 and granted
# pages and allocated a port, and Get-XenPlatform.
# Run with: Invoke-Pester ./tests/Pester/VirtualDevices.XenLoopback.Tests.ps1 (after `dotnet build src/VirtualDevices.PowerShell`).

BeforeAll {
    . (Join-Path $PSScriptRoot 'Helpers/TestHelpers.ps1')
    $ModulePath = (Resolve-Path (Join-Path $PSScriptRoot '../../out/VirtualDevices/VirtualDevices.psd1')).Path
    Import-Module $ModulePath -Force

    # Every test leaves the session as it found it: no joined domain, no hypervisor.
    function Reset-XenLoopbackSession {
        Get-XenLoopbackDomain | Disconnect-XenLoopbackDomain -Confirm:$false
        Get-XenLoopbackHypervisor | Stop-XenLoopbackHypervisor -Confirm:$false
    }

    # Every line of $Text fits in $Width columns.
    function Test-Width([string] $Text, [int] $Width = 80) {
        @($Text -split "`n" | Where-Object { $_.TrimEnd("`r").Length -gt $Width }).Count -eq 0
    }

    # Starts a second pwsh session running $Script, which joins a hypervisor and prints one line matching $Ready; returns
    # the process and that line's match (throws, with the session's errors, when no such line comes in 90 s).
    function Start-SecondSession([string] $Script, [string] $Ready) {
        # pwsh as PATH finds it (the process itself may be the dotnet host of a pwsh installed as a .NET tool).
        $info = [Diagnostics.ProcessStartInfo]::new((Get-Command pwsh -CommandType Application | Select-Object -First 1).Source)
        foreach ($argument in '-NoProfile', '-NonInteractive', '-Command', $Script) { $info.ArgumentList.Add($argument) }
        $info.UseShellExecute = $false
        $info.RedirectStandardInput = $true
        $info.RedirectStandardOutput = $true
        $info.RedirectStandardError = $true
        $process = [Diagnostics.Process]::Start($info)
        $stderr = $process.StandardError.ReadToEndAsync()
        $line = $process.StandardOutput.ReadLineAsync()
        if (-not $line.Wait(90000) -or $line.Result -notmatch $Ready) {
            Stop-Peer $process
            throw "the second session did not join: $($line.Result) $(if ($stderr.Wait(2000)) { $stderr.Result })"
        }

        [pscustomobject]@{ Process = $process; Match = $Matches }
    }
}

AfterAll {
    Reset-XenLoopbackSession
}

Describe 'Start-, Get- and Stop-XenLoopbackHypervisor' {
    AfterEach { Reset-XenLoopbackSession }

    It 'starts a named hypervisor on its socket, gets it by name and pattern, and stops it from the pipeline' {
        $hv = Start-XenLoopbackHypervisor -SocketPath "$TestDrive/xl.sock" -Name xl
        $hv | Should -BeOfType ([VirtualDevices.Xen.Loopback.LoopbackHypervisor])
        $hv.Name | Should -Be 'xl'
        $hv.SocketPath | Should -Be "$TestDrive/xl.sock"
        Test-Path "$TestDrive/xl.sock" | Should -BeTrue
        (Get-XenLoopbackHypervisor -Name xl) | Should -Be $hv
        (Get-XenLoopbackHypervisor -Name 'X*').Name | Should -Be 'xl'
        $hv | Stop-XenLoopbackHypervisor -Confirm:$false
        Get-XenLoopbackHypervisor | Should -BeNullOrEmpty
        Test-Path "$TestDrive/xl.sock" | Should -BeFalse
    }

    It 'names hypervisors xen-loopbackN by default, on a socket of its own that it removes on stop' {
        $first = Start-XenLoopbackHypervisor
        $second = Start-XenLoopbackHypervisor
        $first.Name, $second.Name | Should -Be 'xen-loopback0', 'xen-loopback1'
        Test-Path $first.SocketPath | Should -BeTrue
        $first.SocketPath | Should -Not -Be $second.SocketPath
        $paths = $first.SocketPath, $second.SocketPath
        'xen-loopback0', 'xen-loopback1' | Stop-XenLoopbackHypervisor -Confirm:$false
        $paths | ForEach-Object { Test-Path $_ | Should -BeFalse }
    }

    It 'stops by name, positionally, with -Name (as Get- takes it) and with -Hypervisor' {
        $null = Start-XenLoopbackHypervisor -SocketPath "$TestDrive/a.sock" -Name a
        $null = Start-XenLoopbackHypervisor -SocketPath "$TestDrive/b.sock" -Name b
        $null = Start-XenLoopbackHypervisor -SocketPath "$TestDrive/c.sock" -Name c
        Stop-XenLoopbackHypervisor a -Confirm:$false
        (Get-XenLoopbackHypervisor).Name | Should -Be 'b', 'c'
        Stop-XenLoopbackHypervisor -Name c -Confirm:$false
        (Get-XenLoopbackHypervisor).Name | Should -Be 'b'
        Stop-XenLoopbackHypervisor -Hypervisor (Get-XenLoopbackHypervisor -Name b) -Confirm:$false
        Get-XenLoopbackHypervisor | Should -BeNullOrEmpty
        # The servers' Stop- cmdlets alike.
        (Get-Command Stop-NbdServer).Parameters['Server'].Aliases | Should -Be 'Name'
        (Get-Command Stop-XenstoreServer).Parameters['Server'].Aliases | Should -Be 'Name'
    }

    It 'does nothing under -WhatIf' {
        Start-XenLoopbackHypervisor -SocketPath "$TestDrive/w.sock" -Name w -WhatIf | Should -BeNullOrEmpty
        Test-Path "$TestDrive/w.sock" | Should -BeFalse
        Get-XenLoopbackHypervisor | Should -BeNullOrEmpty

        $hv = Start-XenLoopbackHypervisor -SocketPath "$TestDrive/w.sock" -Name w
        $hv | Stop-XenLoopbackHypervisor -WhatIf
        (Get-XenLoopbackHypervisor -Name w) | Should -Be $hv
        Test-Path "$TestDrive/w.sock" | Should -BeTrue
    }

    It 'reports an unknown name as a non-terminating error that -ErrorAction honours' {
        $null = Start-XenLoopbackHypervisor -SocketPath "$TestDrive/k.sock" -Name kept
        Stop-XenLoopbackHypervisor -Hypervisor nosuch, kept -Confirm:$false -ErrorAction SilentlyContinue -ErrorVariable errors
        $errors.Count | Should -Be 1
        $errors[0].FullyQualifiedErrorId | Should -BeLike 'XenLoopbackHypervisorNotFound,*'
        $errors[0].CategoryInfo.Category | Should -Be 'ObjectNotFound'
        Get-XenLoopbackHypervisor | Should -BeNullOrEmpty   # the known one was stopped all the same

        { Stop-XenLoopbackHypervisor -Hypervisor nosuch -ErrorAction Stop } | Should -Throw -ErrorId 'XenLoopbackHypervisorNotFound,*'
        Get-XenLoopbackHypervisor -Name nosuch -ErrorAction SilentlyContinue -ErrorVariable notFound | Should -BeNullOrEmpty
        $notFound[0].FullyQualifiedErrorId | Should -BeLike 'ServiceNotFound,*'
        Get-XenLoopbackHypervisor -Name 'nosuch*' -ErrorVariable none | Should -BeNullOrEmpty
        $none | Should -BeNullOrEmpty
    }

    It 'leaves a regular file at -SocketPath as it was, even an empty one' {
        $bytes = [byte[]](1..200)
        [IO.File]::WriteAllBytes("$TestDrive/image.img", $bytes)
        $null = New-Item -ItemType File "$TestDrive/empty"
        foreach ($path in "$TestDrive/image.img", "$TestDrive/empty") {
            Start-XenLoopbackHypervisor -SocketPath $path -ErrorAction SilentlyContinue -ErrorVariable errors | Should -BeNullOrEmpty
            $errors[0].FullyQualifiedErrorId | Should -BeLike 'SocketPathNotSocket,*'
            $errors[0].CategoryInfo.Category | Should -Be 'ResourceExists'
        }
        [IO.File]::ReadAllBytes("$TestDrive/image.img") | Should -Be $bytes
        (Get-Item "$TestDrive/empty").Length | Should -Be 0
        Get-XenLoopbackHypervisor | Should -BeNullOrEmpty
    }

    It 'refuses a socket another hypervisor or a xenstore server answers on, which keeps serving' {
        $hv = Start-XenLoopbackHypervisor -SocketPath "$TestDrive/live.sock" -Name live
        { Start-XenLoopbackHypervisor -SocketPath "$TestDrive/live.sock" -Name other -ErrorAction Stop } | Should -Throw -ErrorId 'XenLoopbackSocketInUse,*'
        $joined = Join-XenLoopbackHypervisor -SocketPath "$TestDrive/live.sock"
        $joined.DomainId | Should -Be 1

        $xs = Start-XenstoreServer -SocketPath "$TestDrive/xs.sock" -Name hv-xs -NoConnect
        try {
            { Start-XenLoopbackHypervisor -SocketPath "$TestDrive/xs.sock" -ErrorAction Stop } | Should -Throw -ErrorId 'XenLoopbackSocketInUse,*'
            $client = Connect-Xenstore -SocketPath "$TestDrive/xs.sock"
            $client.IsConnected | Should -BeTrue
            Disconnect-Xenstore $client -Confirm:$false
        } finally {
            $xs | Stop-XenstoreServer -Confirm:$false
        }

        # And the other way round: a xenstore server does not take the live hypervisor's socket for a stale one.
        { Start-XenstoreServer -SocketPath "$TestDrive/live.sock" -NoConnect -ErrorAction Stop } | Should -Throw -ErrorId 'XenstoreSocketInUse,*'
        (Join-XenLoopbackHypervisor -SocketPath "$TestDrive/live.sock").DomainId | Should -Be 2
    }

    It 'refuses a name in use before it makes a socket' {
        $null = Start-XenLoopbackHypervisor -SocketPath "$TestDrive/n1.sock" -Name taken
        Start-XenLoopbackHypervisor -SocketPath "$TestDrive/n2.sock" -Name taken -ErrorAction SilentlyContinue -ErrorVariable errors
        $errors[0].FullyQualifiedErrorId | Should -BeLike 'ServiceNameInUse,*'
        Test-Path "$TestDrive/n2.sock" | Should -BeFalse
    }

    It 'completes hypervisor names' {
        $null = Start-XenLoopbackHypervisor -SocketPath "$TestDrive/c1.sock" -Name comp-one
        $null = Start-XenLoopbackHypervisor -SocketPath "$TestDrive/c2.sock" -Name comp-two
        Get-Completion 'Stop-XenLoopbackHypervisor -Hypervisor comp-' -Sort | Should -Be 'comp-one', 'comp-two'
        Get-Completion 'Get-XenLoopbackHypervisor -Name comp-t' | Should -Be 'comp-two'
        Get-Completion 'Get-XenGrant -Hypervisor comp-o' | Should -Be 'comp-one'
    }

    It 'fits its views in 80 columns' {
        $null = Start-XenLoopbackHypervisor -SocketPath "$TestDrive/a-rather-long-directory-name-for-the-socket/../view.sock" -Name view
        $table = Get-XenLoopbackHypervisor | Out-String -Width 80
        $table | Should -Match 'view\s+0\s+0\s+0'
        Test-Width $table | Should -BeTrue
        Test-Width (Get-XenLoopbackHypervisor | Format-List | Out-String -Width 80) | Should -BeTrue
    }
}

Describe 'Join-XenLoopbackHypervisor and the session''s joined domains' {
    BeforeEach { $hv = Start-XenLoopbackHypervisor -SocketPath "$TestDrive/j.sock" -Name xl }
    AfterEach { Reset-XenLoopbackSession }

    It 'joins a hypervisor of the session from the pipeline as dom0, and another through its socket' {
        $dom0 = $hv | Join-XenLoopbackHypervisor -DomainId 0
        $dom0 | Should -BeOfType ([VirtualDevices.Xen.Loopback.LoopbackDomain])
        $dom0.DomainId | Should -Be 0
        $dom0.Name | Should -Match '^xen-join\d+$'
        $guest = Join-XenLoopbackHypervisor "$TestDrive/j.sock" -Name guest
        $guest.DomainId | Should -Be 1
        $guest.Source | Should -Be "$TestDrive/j.sock"
        (Get-XenLoopbackDomain).Name | Should -Be $dom0.Name, 'guest'
        (Get-XenDomain).DomainId | Should -Be 0, 1
        Join-XenLoopbackHypervisor -Hypervisor xl -DomainId 3 | ForEach-Object DomainId | Should -Be 3
    }

    It 'lets a script share a page: grant, write, map by the references, read; a read-only mapping refuses a write' {
        $dom0 = $hv | Join-XenLoopbackHypervisor -DomainId 0
        $guest = Join-XenLoopbackHypervisor "$TestDrive/j.sock" -Name guest
        $page = $guest.Grant(0, 2, 'ReadWrite')
        $refs = $page.GetReferences()
        $refs.Count | Should -Be 2
        $page.Write(4094, [byte[]](1..4))
        $map = $dom0.Map($guest.DomainId, $refs, 'ReadWrite')
        $map.Read(4094, 4) | Should -Be 1, 2, 3, 4
        $map.Write(0, [Text.Encoding]::ASCII.GetBytes('from dom0'))
        [Text.Encoding]::ASCII.GetString($page.Read(0, 9)) | Should -Be 'from dom0'
        { $map.Read(8190, 4) } | Should -Throw -ExceptionType ([System.Management.Automation.MethodInvocationException]) -ExpectedMessage '*run past the 8192 bytes*'
        $readOnly = $dom0.Map($guest.DomainId, $refs, 'ReadOnly')
        { $readOnly.Write(0, [byte[]](1)) } | Should -Throw -ExpectedMessage '*mapped read-only*'
        (Get-XenGrant -DomainId $guest.DomainId | Measure-Object MapCount -Sum).Sum | Should -Be 4
        $readOnly.Dispose(); $map.Dispose(); $page.Dispose()
        Get-XenGrant -DomainId $guest.DomainId | Should -BeNullOrEmpty
    }

    It 'reports a taken domain id, a dead socket and an unknown hypervisor name, non-terminating' {
        $null = Join-XenLoopbackHypervisor -Hypervisor xl -DomainId 0
        Join-XenLoopbackHypervisor -Hypervisor xl -DomainId 0 -ErrorAction SilentlyContinue -ErrorVariable taken | Should -BeNullOrEmpty
        $taken[0].FullyQualifiedErrorId | Should -BeLike 'XenLoopbackDomainIdInUse,*'
        Join-XenLoopbackHypervisor -SocketPath "$TestDrive/nobody.sock" -ErrorAction SilentlyContinue -ErrorVariable dead | Should -BeNullOrEmpty
        $dead[0].FullyQualifiedErrorId | Should -BeLike 'XenLoopbackConnectFailed,*'
        'nosuch' | Join-XenLoopbackHypervisor -ErrorAction SilentlyContinue -ErrorVariable unknown | Should -BeNullOrEmpty
        $unknown[0].FullyQualifiedErrorId | Should -BeLike 'XenLoopbackHypervisorNotFound,*'
        @(Get-XenLoopbackDomain).Count | Should -Be 1
    }

    It 'leaves by object, by -Name and by a piped name; -WhatIf leaves nothing' {
        $a = Join-XenLoopbackHypervisor -Hypervisor xl -Name a
        $null = Join-XenLoopbackHypervisor -Hypervisor xl -Name b
        $null = Join-XenLoopbackHypervisor -Hypervisor xl -Name c
        $a | Disconnect-XenLoopbackDomain -WhatIf
        $a.IsDisconnected | Should -BeFalse
        $a | Disconnect-XenLoopbackDomain -Confirm:$false
        $a.IsDisconnected | Should -BeTrue
        Disconnect-XenLoopbackDomain -Name b -Confirm:$false
        'c' | Disconnect-XenLoopbackDomain -Confirm:$false
        Get-XenLoopbackDomain | Should -BeNullOrEmpty
        # At once: a Disconnect returns with the hypervisor's side of the departure done.
        Get-XenDomain | Should -BeNullOrEmpty

        Disconnect-XenLoopbackDomain -Name nosuch -ErrorAction SilentlyContinue -ErrorVariable errors
        $errors[0].FullyQualifiedErrorId | Should -BeLike 'XenLoopbackDomainNotJoined,*'
        { Disconnect-XenLoopbackDomain -Name nosuch -ErrorAction Stop } | Should -Throw -ErrorId 'XenLoopbackDomainNotJoined,*'
    }

    It 'completes joined domain names' {
        $null = Join-XenLoopbackHypervisor -Hypervisor xl -Name member-one
        Get-Completion 'Disconnect-XenLoopbackDomain -Name member' | Should -Be 'member-one'
        Get-Completion 'Get-XenLoopbackDomain -Name mem' | Should -Be 'member-one'
    }

    It 'leaves with the session that joined' {
        $runspace = [runspacefactory]::CreateRunspace([Management.Automation.Runspaces.InitialSessionState]::CreateDefault())
        $runspace.Open()
        try {
            $ps = [powershell]::Create($runspace)
            $joined = $ps.AddScript("Import-Module '$ModulePath'; (Join-XenLoopbackHypervisor -SocketPath '$TestDrive/j.sock' -DomainId 4).DomainId").Invoke()
            $ps.Streams.Error | Should -BeNullOrEmpty
            $joined | Should -Be 4
            (Get-XenDomain -Hypervisor xl).DomainId | Should -Contain 4
            $ps.Dispose()
        } finally {
            $runspace.Dispose()
        }
        Wait-Condition { @(Get-XenDomain -Hypervisor xl | ForEach-Object DomainId) -notcontains 4 } | Should -BeTrue
    }

    It 'disconnects the joined domains when the hypervisor stops' {
        $member = Join-XenLoopbackHypervisor -SocketPath "$TestDrive/j.sock"
        $hv | Stop-XenLoopbackHypervisor -Confirm:$false
        Wait-Condition { $member.IsDisconnected } | Should -BeTrue
        (Get-XenLoopbackDomain | Out-String -Width 80) | Should -Match 'False'
    }
}

Describe 'Listing domains, grants and channels with a second pwsh session as domain 1' {
    BeforeAll {
        $hv = Start-XenLoopbackHypervisor -SocketPath "$TestDrive/two.sock" -Name two
        $dom0 = $hv | Join-XenLoopbackHypervisor -DomainId 0 -Name dom0

        # The second session: another pwsh process that joins through the socket, grants two pages read-only to
        # domain 0 and allocates a port for it, says so, and stays joined until its standard input closes.
        $script = @"
`$ErrorActionPreference = 'Stop'
Import-Module '$ModulePath'
`$domain = Join-XenLoopbackHypervisor -SocketPath '$TestDrive/two.sock'
`$pages = `$domain.Grant(0, 2, 'ReadOnly')
`$port = `$domain.AllocateUnbound(0)
"ready `$(`$domain.DomainId) `$(`$port.Port)"
`$null = [Console]::In.ReadLine()
"@
        $started = Start-SecondSession -Script $script -Ready '^ready (\d+) (\d+)$'
        $second = $started.Process
        $secondId = [int]$started.Match[1]
        $secondPort = [uint32]$started.Match[2]
    }

    AfterAll {
        Stop-Peer $second
        Reset-XenLoopbackSession
    }

    It 'lists the second session''s domain' {
        $secondId | Should -Be 1
        $domains = Get-XenDomain
        $domains.DomainId | Should -Be 0, 1
        ($domains | Where-Object DomainId -eq 1).Grants | Should -Be 2
        ($domains | Where-Object DomainId -eq 1).Ports | Should -Be 1
        (Get-XenDomain 1).DomainId | Should -Be 1
        Get-XenDomain -DomainId 7 | Should -BeNullOrEmpty
    }

    It 'lists its grants, from either side and by hypervisor object or name' {
        $grants = Get-XenGrant -DomainId 0
        $grants.Count | Should -Be 2
        $grants | ForEach-Object {
            $_.Granter | Should -Be 1
            $_.Grantee | Should -Be 0
            $_.ReadOnly | Should -BeTrue
            $_.MapCount | Should -Be 0
        }
        $grants.Reference | Should -Be 8, 9
        (Get-XenLoopbackHypervisor -Name two | Get-XenGrant).Count | Should -Be 2
        (Get-XenGrant -Hypervisor two -DomainId 1).Count | Should -Be 2
        Get-XenGrant -Hypervisor nosuch -ErrorAction SilentlyContinue -ErrorVariable errors | Should -BeNullOrEmpty
        $errors[0].FullyQualifiedErrorId | Should -BeLike 'XenLoopbackHypervisorNotFound,*'
    }

    It 'lists its port unbound, then both ends once domain 0 binds it' {
        $unbound = Get-XenEventChannel
        $unbound.DomainId | Should -Be 1
        $unbound.Port | Should -Be $secondPort
        $unbound.RemoteDomain | Should -Be 0
        $unbound.RemotePort | Should -Be 0
        ($unbound | Out-String -Width 80) | Should -Match 'Unbound'

        $channel = $dom0.BindInterdomain(1, $secondPort)
        $channels = Get-XenEventChannel
        $channels.DomainId | Should -Be 0, 1
        ($channels | Where-Object DomainId -eq 0).RemotePort | Should -Be $secondPort
        ($channels | Where-Object DomainId -eq 1).RemotePort | Should -Be $channel.Port
        (Get-XenEventChannel -DomainId 0).Port | Should -Be $channel.Port
        ($channels | Out-String -Width 80) | Should -Match 'Interdomain'
    }

    It 'fits every view in 80 columns' {
        foreach ($text in (Get-XenDomain | Out-String -Width 80), (Get-XenGrant | Out-String -Width 80),
            (Get-XenEventChannel | Out-String -Width 80), (Get-XenLoopbackDomain | Out-String -Width 80),
            (Get-XenLoopbackHypervisor | Out-String -Width 80), (Get-XenPlatform | Out-String -Width 80)) {
            $text | Should -Not -BeNullOrEmpty
            Test-Width $text | Should -BeTrue
        }
    }

    It 'sees the second session leave: its domain, grants and port go' {
        $second.StandardInput.Close()
        $second.WaitForExit(60000) | Should -BeTrue
        Wait-Condition { @(Get-XenDomain | ForEach-Object DomainId) -notcontains 1 } 30 | Should -BeTrue
        Get-XenGrant | Should -BeNullOrEmpty
        Get-XenEventChannel -DomainId 1 | Should -BeNullOrEmpty
    }
}

Describe 'A hypervisor with xenstore: a second pwsh session as domain 1 uses its xenstore over its ring' {
    BeforeAll {
        $hv = Start-XenLoopbackHypervisor -SocketPath "$TestDrive/xs-hv.sock" -XenstoreSocketPath "$TestDrive/xs.sock" -Name withxs
        $xs = Connect-Xenstore -SocketPath "$TestDrive/xs.sock"

        # Domain 1 in another pwsh: joins, writes into its own home over its xenstore ring, tries dom0's private
        # node, says what it saw, and stays joined until its standard input closes.
        $script = @"
`$ErrorActionPreference = 'Stop'
Import-Module '$ModulePath'
`$domain = Join-XenLoopbackHypervisor -SocketPath '$TestDrive/xs-hv.sock'
`$client = `$domain.ConnectXenstore()
`$domainHome = "/local/domain/`$(`$domain.DomainId)"
# `$null: GetResult of an awaited task (runtime type Task<VoidTaskResult>) returns an object that would be printed.
`$null = `$client.WriteAsync("`$domainHome/data/greeting", 'hello from domain 1').AsTask().GetAwaiter().GetResult()
`$name = `$client.ReadStringAsync("`$domainHome/name").AsTask().GetAwaiter().GetResult()
`$denied = try { `$null = `$client.ReadStringAsync('/vd-private/secret').AsTask().GetAwaiter().GetResult(); 'read' } catch { `$_.Exception.InnerException.ErrorId }
"ready `$(`$domain.DomainId) `$name `$denied"
`$null = [Console]::In.ReadLine()
"@
        Set-XenstoreItem -Store $xs -Path /vd-private/secret -Value 'dom0 only' -Confirm:$false
        $started = Start-SecondSession -Script $script -Ready '^ready (\d+) (\S+) (\S+)$'
        $second = $started.Process
        $secondId = [int]$started.Match[1]
        $secondName = $started.Match[2]
        $secondDenied = $started.Match[3]
    }

    AfterAll {
        Stop-Peer $second
        if ($xs) { $xs | Disconnect-Xenstore -ErrorAction Ignore }
        Reset-XenLoopbackSession
    }

    It 'gives the joining domain its home, written as libxl does, and its xenstore over the ring' {
        $secondId | Should -Be 1
        (Get-XenstoreItem -Store $xs -Path /local/domain/1/name).Value | Should -Be $secondName
        (Get-XenstoreItem -Store $xs -Path /local/domain/1/domid).Value | Should -Be '1'
        (Get-XenstoreItem -Store $xs -Path /local/domain/1/data/greeting).Value | Should -Be 'hello from domain 1'
        $hv.XenstoreSocketPath | Should -Be "$TestDrive/xs.sock"
    }

    It 'enforces permissions on the guest: dom0''s private node is refused to domain 1' {
        $secondDenied | Should -Be 'XenstoreAccessDenied'
    }

    It 'has a departing domain''s home removed before Disconnect-XenLoopbackDomain returns' {
        $here = $hv | Join-XenLoopbackHypervisor -Name here
        $id = $here.DomainId
        (Get-XenstoreItem -Store $xs -Path "/local/domain/$id/domid").Value | Should -Be "$id"
        $here | Disconnect-XenLoopbackDomain -Confirm:$false
        Get-XenstoreItem -Store $xs -Path "/local/domain/$id" -ErrorAction Ignore | Should -BeNullOrEmpty
        Get-XenDomain | Where-Object DomainId -EQ $id | Should -BeNullOrEmpty
        Get-XenGrant | Where-Object Granter -EQ $id | Should -BeNullOrEmpty
    }

    It 'releases the domain when the second session leaves: its home goes' {
        $second.StandardInput.Close()
        $second.WaitForExit(60000) | Should -BeTrue
        Wait-Condition { -not (Get-XenstoreItem -Store $xs -Path /local/domain/1 -ErrorAction Ignore) } 30 | Should -BeTrue
    }

    It 'stops with its xenstore: the socket goes' {
        $xs | Disconnect-Xenstore
        $hv | Stop-XenLoopbackHypervisor -Confirm:$false
        Test-Path "$TestDrive/xs.sock" | Should -BeFalse
    }
}

Describe 'Get-XenPlatform' {
    AfterEach { Reset-XenLoopbackSession }

    It 'is the loopback on a machine without Xen, and names the session''s hypervisor once one runs' {
        Test-Path /dev/xen/evtchn | Should -BeFalse -Because 'this test is for a machine without Xen'
        $platform = Get-XenPlatform
        $platform.Kind | Should -Be 'Loopback'
        $platform.Hypervisor | Should -BeNullOrEmpty
        ($platform | Out-String -Width 80) | Should -Match 'started on first use'

        $null = Start-XenLoopbackHypervisor -SocketPath "$TestDrive/p.sock" -Name plat
        $platform = Get-XenPlatform
        $platform.Hypervisor | Should -Be 'plat'
        $platform.SocketPath | Should -Be "$TestDrive/p.sock"
    }
}

Describe 'Disconnect-XenLoopbackDomain from a hypervisor that stopped answering' {
    BeforeAll {
        # A wedged hypervisor: it answers joins (as domain 7) and never a goodbye (python3, from .ci/apt-packages).
        $wedged = @'
import socket, struct, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
s.bind(sys.argv[1])
s.listen(4)
print("listening", flush=True)
kept = []
while True:
    c, _ = s.accept()
    c.recvmsg(70000, socket.CMSG_SPACE(16))
    c.send(struct.pack("<IiIIII", 0x40000001, 0, 7, 0, 0, 0))
    kept.append(c)
'@
        $info = [Diagnostics.ProcessStartInfo]::new('python3')
        foreach ($argument in '-c', $wedged, "$TestDrive/wedged.sock") { $info.ArgumentList.Add($argument) }
        $info.UseShellExecute = $false
        $info.RedirectStandardOutput = $true
        $fake = [Diagnostics.Process]::Start($info)
        $listening = $fake.StandardOutput.ReadLineAsync()
        if (-not $listening.Wait(30000) -or $listening.Result -ne 'listening') { Stop-Peer $fake; throw 'the wedged hypervisor did not start' }
    }

    AfterAll {
        Reset-XenLoopbackSession
        Stop-Peer $fake
    }

    It 'gives up waiting for the goodbye after a moment, and Ctrl+C ends the wait at once; the domain leaves the session' {
        (Join-XenLoopbackHypervisor -SocketPath "$TestDrive/wedged.sock" -Name wedged1).DomainId | Should -Be 7
        $clock = [Diagnostics.Stopwatch]::StartNew()
        Disconnect-XenLoopbackDomain -Name wedged1 -Confirm:$false
        $clock.Elapsed.TotalSeconds | Should -BeLessThan 15 -Because 'a hypervisor that does not answer is waited on for 5 s'
        Get-XenLoopbackDomain | Should -BeNullOrEmpty

        # Ctrl+C: the same in a runspace of its own, stopped half a second into the wait.
        $ps = [powershell]::Create()
        try {
            $null = $ps.AddScript("Import-Module '$ModulePath'; `$null = Join-XenLoopbackHypervisor -SocketPath '$TestDrive/wedged.sock' -Name wedged2; 'joined'; Disconnect-XenLoopbackDomain -Name wedged2 -Confirm:`$false")
            $output = [Management.Automation.PSDataCollection[psobject]]::new()
            $async = $ps.BeginInvoke([Management.Automation.PSDataCollection[psobject]] $null, $output)
            $deadline = [DateTime]::UtcNow.AddSeconds(60)
            while (-not $async.IsCompleted -and $output.Count -eq 0 -and [DateTime]::UtcNow -lt $deadline) { Start-Sleep -Milliseconds 50 }
            Start-Sleep -Milliseconds 500
            $async.IsCompleted | Should -BeFalse -Because 'the goodbye is still waiting for its answer'
            $clock = [Diagnostics.Stopwatch]::StartNew()
            $ps.Stop()
            $clock.Elapsed.TotalSeconds | Should -BeLessThan 4 -Because 'Ctrl+C ends the wait, well before its 5 s'
        } finally { $ps.Dispose() }
    }
}
