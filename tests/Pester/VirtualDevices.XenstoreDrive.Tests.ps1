#Requires -Version 7.4
# Pester 5 tests of the Xs: drive as an administrator uses it (drives rooted below '/', relative paths, every provider
# cmdlet), of wildcards and Tab completion on the xenstore cmdlets, of -WhatIf, -ErrorAction and Ctrl+C on each of
# them, and of the help examples of the xenstore pages, run as written. Every test works on an embedded server, so no
# Xen is needed. Run with: Invoke-Pester ./tests/Pester (after `dotnet build src/VirtualDevices.PowerShell`).

BeforeAll {
    . (Join-Path $PSScriptRoot 'Helpers/TestHelpers.ps1')
    $manifestPath = Join-Path $PSScriptRoot '../../out/VirtualDevices/VirtualDevices.psd1'
    Import-Module $manifestPath -Force

    # Nothing in these tests may reach a real xenstored: the host default points at a socket that does not exist.
    $savedXenstoredPath = $env:XENSTORED_PATH
    $env:XENSTORED_PATH = Join-Path ([IO.Path]::GetTempPath()) "vd-no-xenstored-$PID.sock"

    # A fresh embedded store with two guests' worth of nodes.
    function Initialize-Store {
        Reset-XenstoreSession
        Start-XenstoreServer | Out-Null
        Set-XenstoreItem -Path /local/domain/0/name -Value Domain-0
        Set-XenstoreItem -Path /local/domain/1/name -Value guest1
        Set-XenstoreItem -Path /local/domain/1/device/vbd/51712/state -Value 4
        Set-XenstoreItem -Path /local/domain/1/device/vif/0/state -Value 4
        Set-XenstoreItem -Path /local/domain/2/name -Value guest2
    }

    Reset-XenstoreSession
}

AfterAll {
    Reset-XenstoreSession
    $env:XENSTORED_PATH = $savedXenstoredPath
}

Describe 'A drive rooted below /' {
    BeforeAll {
        Initialize-Store
    }

    BeforeEach {
        New-PSDrive -Name D1 -PSProvider Xenstore -Root /local/domain/1 | Out-Null
    }

    AfterEach {
        Set-Location -Path $TestDrive
        Get-PSDrive -Name D1 -ErrorAction SilentlyContinue | Remove-PSDrive
    }

    It 'has the node as its root, and the drive''s name in braces' {
        (Get-PSDrive -Name D1).Root | Should -Be '{D1}/local/domain/1/'
    }

    It 'Get-ChildItem lists the root with and without the closing slash' {
        (Get-ChildItem -Path D1:/).NodePath -join ',' | Should -Be '/local/domain/1/device,/local/domain/1/name'
        (Get-ChildItem -Path D1:).NodePath -join ',' | Should -Be '/local/domain/1/device,/local/domain/1/name'
        (Get-ChildItem -Path 'D1:\').Name -join ',' | Should -Be 'device,name'
    }

    It 'Get-ChildItem -Recurse and -Name give paths relative to the given node' {
        Get-ChildItem -Path D1:/ -Recurse -Name | Should -Be @(
            'device', 'name', 'device/vbd', 'device/vif', 'device/vbd/51712', 'device/vbd/51712/state', 'device/vif/0', 'device/vif/0/state')
        Get-ChildItem -Path D1:/device -Name | Should -Be @('vbd', 'vif')
        (Get-ChildItem -Path D1:/device -Recurse -Depth 0).NodePath -join ',' | Should -Be '/local/domain/1/device/vbd,/local/domain/1/device/vif'
    }

    It 'Get-ChildItem -Filter, -Include and -Exclude match node names' {
        (Get-ChildItem -Path D1:/device -Recurse -Filter state).NodePath -join ',' |
            Should -Be '/local/domain/1/device/vbd/51712/state,/local/domain/1/device/vif/0/state'
        Get-ChildItem -Path D1:/device -Filter 'vi*' -Name | Should -Be 'vif'
        Get-ChildItem -Path D1:/device/* -Include 'vb*' -Name | Should -Be 'vbd'
        Get-ChildItem -Path D1:/device -Exclude 'vbd' -Name | Should -Be 'vif'
    }

    It 'Get-Item gets the root, nodes, and nodes matched by wildcards' {
        (Get-Item -Path D1:/).NodePath | Should -Be '/local/domain/1'
        (Get-Item -Path D1:/name).Value | Should -Be 'guest1'
        (Get-Item -Path D1:/device/*/*/state).NodePath -join ',' |
            Should -Be '/local/domain/1/device/vbd/51712/state,/local/domain/1/device/vif/0/state'
        (Get-Item -Path D1:/n*).Value | Should -Be 'guest1'
    }

    It 'items keep the drive in their PSPath and PSDrive' {
        $item = Get-Item -Path D1:/name
        $item.PSDrive.Name | Should -Be 'D1'
        $item.PSChildName | Should -Be 'name'
        $item.PSPath | Should -BeLike '*Xenstore::{D1}/local/domain/1/name'
        Convert-Path -Path D1:/name | Should -Be '{D1}/local/domain/1/name'
    }

    It 'Test-Path tells the root, nodes and missing nodes apart' {
        Test-Path -Path D1:/ | Should -BeTrue
        Test-Path -Path D1: | Should -BeTrue
        Test-Path -Path D1:/device/vif -PathType Container | Should -BeTrue
        Test-Path -Path D1:/missing | Should -BeFalse
    }

    It 'Set-Location moves into the drive; relative paths, . and .. follow the current location' {
        Set-Location -Path D1:
        (Get-Location).Path | Should -Be 'D1:/'
        (Get-ChildItem -Name) -join ',' | Should -Be 'device,name'
        Set-Location -Path device/vbd
        (Get-Location).Path | Should -Be 'D1:/device/vbd'
        (Get-Item -Path 51712/state).Value | Should -Be '4'
        (Get-Item -Path ./51712/state).Value | Should -Be '4'
        (Get-Item -Path ../../name).Value | Should -Be 'guest1'
        (Get-ChildItem -Path ../vif -Name) | Should -Be '0'
        Set-Location -Path ..
        (Get-Location).Path | Should -Be 'D1:/device'
        Set-Location -Path ..
        (Get-Location).Path | Should -Be 'D1:/'
    }

    It '.. never leaves the drive''s root' {
        (Get-Item -Path D1:/..).NodePath | Should -Be '/local/domain/1'
        (Get-Item -Path D1:/device/..).NodePath | Should -Be '/local/domain/1'
        Set-Location -Path D1:/
        Set-Location -Path ..
        (Get-Location).Path | Should -Be 'D1:/'
        (Get-Item -Path Xs:/local/..).NodePath | Should -Be '/'
    }

    It 'Get-Content and Set-Content read and write values' {
        Get-Content -Path D1:/name | Should -Be 'guest1'
        Set-Content -Path D1:/device/vif/0/state -Value 5
        (Get-XenstoreItem -Path /local/domain/1/device/vif/0/state).Value | Should -Be '5'
    }

    It 'New-Item and Remove-Item create and remove nodes below the root' {
        (New-Item -Path D1:/made/here -Value v).NodePath | Should -Be '/local/domain/1/made/here'
        Test-Path -Path Xs:/local/domain/1/made/here | Should -BeTrue
        Remove-Item -Path D1:/made -Recurse
        Test-Path -Path Xs:/local/domain/1/made | Should -BeFalse
    }

    It 'Set-Item, Clear-Item and Clear-Content work on its nodes' {
        Set-Item -Path D1:/si -Value one
        (Get-XenstoreItem -Path /local/domain/1/si).Value | Should -Be 'one'
        Clear-Item -Path D1:/si
        (Get-XenstoreItem -Path /local/domain/1/si).Value | Should -Be ''
        Set-Item -Path D1:/si -Value two
        Clear-Content -Path D1:/si
        (Get-XenstoreItem -Path /local/domain/1/si).Value | Should -Be ''
        Remove-Item -Path D1:/si
    }

    It 'items piped from the drive go back to their nodes' {
        Set-XenstoreItem -Path /local/domain/1/pipe/a -Value 1
        Set-XenstoreItem -Path /local/domain/1/pipe/b -Value 2
        Get-ChildItem -Path D1:/pipe | Get-Content | Should -Be @('1', '2')
        Get-ChildItem -Path D1:/pipe | Remove-Item
        Test-Path -Path D1:/pipe/a | Should -BeFalse
        Get-Item -Path D1:/pipe | Remove-XenstoreItem
        Test-Path -Path Xs:/local/domain/1/pipe | Should -BeFalse
    }

    It 'the xenstore cmdlets take paths on the drive' {
        (Get-XenstoreItem -Path D1:/name).Value | Should -Be 'guest1'
        (Get-XenstoreItem -Path D1:name).Value | Should -Be 'guest1'
        Set-XenstoreItem -Path D1:/cmdlet -Value x
        (Get-XenstoreItem -Path /local/domain/1/cmdlet).Value | Should -Be 'x'
        Remove-XenstoreItem -Path D1:/cmdlet
        Test-Path -Path D1:/cmdlet | Should -BeFalse
    }

    It 'New-PSDrive takes -Root as a path on a Xenstore drive' {
        try {
            (New-PSDrive -Name D2 -PSProvider Xenstore -Root Xs:/local/domain/2).Root | Should -Be '{D2}/local/domain/2/'
            Get-Content -Path D2:/name | Should -Be 'guest2'
        }
        finally {
            Remove-PSDrive -Name D2
        }
    }

    It 'a path of a drive that has been removed fails instead of going to another store' {
        $item = Get-Item -Path D1:/name
        Remove-PSDrive -Name D1
        { Get-Content -LiteralPath $item.PSPath -ErrorAction Stop } | Should -Throw '*D1*'
    }
}

Describe 'Set-Content and Add-Content of a missing node' {
    BeforeAll {
        Initialize-Store
        New-PSDrive -Name D1 -PSProvider Xenstore -Root /local/domain/1 | Out-Null
        $hostDir = Join-Path $TestDrive 'host'
        New-Item -ItemType Directory -Path $hostDir | Out-Null
        # The xenstore path of the test drive's directory, with the characters xenstore does not allow replaced.
        $hostNode = ($hostDir -replace '[^A-Za-z0-9/_@-]', '-')
    }

    AfterAll {
        Get-PSDrive -Name D1 -ErrorAction SilentlyContinue | Remove-PSDrive
    }

    It 'Set-Content creates the node, as Set-Item does (about_Xenstore_Provider)' {
        Set-Content -Path Xs:/local/domain/1/data/greeting -Value hello
        (Get-XenstoreItem -Path /local/domain/1/data/greeting).Value | Should -Be 'hello'
    }

    It 'Set-Content creates the node on a rooted drive' {
        Set-Content -Path D1:/data/rooted -Value here
        (Get-XenstoreItem -Path /local/domain/1/data/rooted).Value | Should -Be 'here'
    }

    It 'Add-Content creates the node' {
        Add-Content -Path Xs:/local/domain/1/data/added -Value first
        (Get-XenstoreItem -Path /local/domain/1/data/added).Value | Should -Be 'first'
    }

    It 'never writes a file of the host whose path is the node''s' {
        # A provider path that starts with '/' reads as a file-system path to the engine: Set-Content of a missing
        # node used to create (or overwrite) the host file of the same path.
        $file = Join-Path $hostDir 'victim'
        Set-Content -Path $file -Value precious
        Set-Content -Path "Xs:$file" -Value overwritten -ErrorAction SilentlyContinue
        Add-Content -Path "Xs:$hostDir/newfile" -Value created -ErrorAction SilentlyContinue
        Get-Content -Path $file | Should -Be 'precious'
        Test-Path -LiteralPath (Join-Path $hostDir 'newfile') | Should -BeFalse
        (Get-XenstoreItem -Path "$hostNode/newfile").Value | Should -Be 'created'
    }

    It 'Set-Content -WhatIf creates nothing' {
        Set-Content -Path Xs:/local/domain/1/data/whatif -Value x -WhatIf
        Test-Path -Path Xs:/local/domain/1/data/whatif | Should -BeFalse
    }
}

Describe 'Wildcards in -Path of the xenstore cmdlets, and -LiteralPath' {
    BeforeAll {
        Initialize-Store
    }

    It 'Get-XenstoreItem matches existing nodes, segment by segment, and skips matches without the rest of the path' {
        (Get-XenstoreItem -Path /local/domain/*/name).Value -join ',' | Should -Be 'Domain-0,guest1,guest2'
        (Get-XenstoreItem -Path '/local/domain/[12]').NodePath -join ',' | Should -Be '/local/domain/1,/local/domain/2'
        (Get-XenstoreItem -Path /local/domain/1/device/v?f).NodePath | Should -Be '/local/domain/1/device/vif'
        (Get-XenstoreItem -Path Xs:/local/domain/*/name).Value -join ',' | Should -Be 'Domain-0,guest1,guest2'
        ('/local/domain/*/name' | Get-XenstoreItem).Count | Should -Be 3
    }

    It 'a pattern that matches nothing writes nothing, and no error' {
        Get-XenstoreItem -Path /nothing/* -ErrorVariable failed | Should -BeNullOrEmpty
        $failed | Should -BeNullOrEmpty
    }

    It '-LiteralPath takes the path as written' {
        (Get-XenstoreItem -LiteralPath /local/domain/1/name).Value | Should -Be 'guest1'
        { Get-XenstoreItem -LiteralPath /local/domain/*/name -ErrorAction Stop } | Should -Throw -ErrorId 'XenstoreInvalidArgument,*'
    }

    It 'piped items still bind by their NodePath' {
        (Get-XenstoreItem -Path /local/domain/1 | Get-XenstoreItem).NodePath | Should -Be '/local/domain/1'
        (Get-ChildItem -Path Xs:/local/domain/1 | Get-XenstorePermission).NodePath -join ',' | Should -Be '/local/domain/1/device,/local/domain/1/name'
    }

    It 'Remove-XenstoreItem removes every match, asking for each with -WhatIf' {
        Set-XenstoreItem -Path /wild/a/x -Value 1
        Set-XenstoreItem -Path /wild/b/x -Value 2
        Set-XenstoreItem -Path /wild/c/y -Value 3
        Remove-XenstoreItem -Path /wild/*/x -WhatIf
        (Get-XenstoreItem -Path /wild/*/x).Count | Should -Be 2
        Remove-XenstoreItem -Path /wild/*/x
        Get-XenstoreItem -Path /wild/*/x | Should -BeNullOrEmpty
        (Get-XenstoreItem -Path /wild/c/y).Value | Should -Be '3'
    }

    It 'Get- and Set-XenstorePermission take wildcards' {
        Set-XenstoreItem -Path /perms/a -Value 1
        Set-XenstoreItem -Path /perms/b -Value 2
        Set-XenstorePermission -Path /perms/* -Permission 'n0', 'r7'
        (Get-XenstorePermission -Path /perms/*).Text -join ',' | Should -Be 'n0 r7,n0 r7'
    }

    It 'a wildcard in the first name of a relative path fails with a clear error' {
        { Get-XenstoreItem -Path '*/name' -ErrorAction Stop } | Should -Throw '*relative path*'
    }
}

Describe 'Tab completion of xenstore paths' {
    BeforeAll {
        Initialize-Store
    }

    It 'completes node paths on <Command> -Path' -ForEach @(
        @{ Command = 'Get-XenstoreItem' }, @{ Command = 'Set-XenstoreItem' }, @{ Command = 'New-XenstoreItem' },
        @{ Command = 'Remove-XenstoreItem' }, @{ Command = 'Get-XenstorePermission' }, @{ Command = 'Set-XenstorePermission' },
        @{ Command = 'Watch-XenstorePath' }
    ) {
        Get-Completion "$Command /local/d" | Should -Be @('/local/domain')
        Get-Completion "$Command -Path /lo" | Should -Be @('/local')
    }

    It 'completes the children of a node, and -LiteralPath' {
        Get-Completion 'Get-XenstoreItem /local/domain/' | Should -Be @('/local/domain/0', '/local/domain/1', '/local/domain/2')
        Get-Completion 'Get-XenstoreItem -LiteralPath /local/domain/1/d' | Should -Be @('/local/domain/1/device')
    }

    It 'never offers files for a xenstore path' {
        # /tmp and /usr exist on the host: the file-system completion used to offer them.
        Get-Completion 'Remove-XenstoreItem /tm' | Should -BeNullOrEmpty
        Get-Completion 'Get-XenstoreItem /us' | Should -BeNullOrEmpty
    }

    It 'completes paths on a Xenstore drive through the provider' {
        Get-Completion 'Get-XenstoreItem Xs:/lo' | Should -Be @('Xs:/local')
    }
}

BeforeDiscovery {
    # Every ```powershell block of the xenstore help pages and of about_Xenstore_Provider. Command pages write
    # commands after 'PS> ' (continued after '>> ') between lines of output; the about topic writes plain script.
    $docsRoot = Join-Path $PSScriptRoot '../../docs'
    $pages = @(Get-ChildItem -Path (Join-Path $docsRoot 'VirtualDevices') -Filter '*Xenstore*.md') + @(Get-Item -Path (Join-Path $docsRoot 'about_Xenstore_Provider.md'))
    $exampleCases = foreach ($page in $pages) {
        $number = 0
        $inBlock = $false
        $lines = $null
        foreach ($line in [IO.File]::ReadAllLines($page.FullName)) {
            if (-not $inBlock -and $line -match '^```powershell\s*$') {
                $inBlock = $true
                $lines = [Collections.Generic.List[string]]::new()
                continue
            }

            if ($inBlock -and $line -match '^```\s*$') {
                $inBlock = $false
                $number++
                $prompted = @($lines | Where-Object { $_ -match '^(PS|>)> ' }).Count -gt 0
                $code = if ($prompted) {
                    ($lines | Where-Object { $_ -match '^(PS|>)> ' } | ForEach-Object { $_.Substring(3) }) -join "`n"
                }
                else {
                    $lines -join "`n"
                }

                @{ Page = $page.BaseName; Number = $number; Name = "$($page.BaseName) #$number"; Code = $code }
                continue
            }

            if ($inBlock) {
                $lines.Add($line)
            }
        }
    }
}

Describe 'The examples of the xenstore help, run as written' {
    BeforeAll {
        $savedModulePath = $env:PSModulePath
        # Examples in thread jobs import the module by name.
        $env:PSModulePath = (Resolve-Path (Join-Path $PSScriptRoot '../../out')).ProviderPath + [IO.Path]::PathSeparator + $env:PSModulePath

        # The examples that need what only a Xen host (or another machine) has.
        $needsXen = @{
            'Connect-Xenstore #1'     = 'connects to the host''s xenstored'
            'Connect-Xenstore #3'     = 'needs a xenstored serving /run/user/1000/xs-test.sock'
            'Connect-Xenstore #4'     = 'opens /dev/xen/xenbus inside a Xen guest'
            'Watch-XenstorePath #2'   = 'streams a guest''s device changes for 60 s'
            'Watch-XenstorePath #5'   = 'waits for a Xen domain to be destroyed'
            'Start-XenstoreServer #3' = 'Pester''s BeforeAll and AfterAll, for a test file, not a command line'
        }

        # What the examples assume besides the store: the nodes of a guest (domain 3 with a vif, domain 5 with its
        # own permissions), a tool's nodes under /vm, and for some examples one thing more, or one less.
        $populate = {
            Set-XenstoreItem -Path /local/domain/0/name -Value Domain-0
            $vif = '/local/domain/3/device/vif/0'
            @{ backend = '/local/domain/0/backend/vif/3/0'; 'backend-id' = '0'; 'event-channel' = '17'; handle = '0'
                mac = '00:16:3e:5a:21:07'; 'rx-ring-ref' = '9'; state = '4'; 'tx-ring-ref' = '8' }.GetEnumerator() |
                ForEach-Object { Set-XenstoreItem -Path "$vif/$($_.Key)" -Value $_.Value }
            Set-XenstoreItem -Path /local/domain/0/backend/vif/3/0/state -Value 2
            Set-XenstoreItem -Path /local/domain/0/backend/vif/3/0/mac -Value 00:16:3e:5a:21:07
            Set-XenstoreItem -Path /local/domain/1/device/vbd/51712/state -Value 4
            Set-XenstoreItem -Path /local/domain/0/backend/vif/5/0/state -Value 2
            Set-XenstoreItem -Path /local/domain/0/backend/vbd/7/51712/state -Value 4
            New-XenstoreItem -Path /local/domain/5 | Out-Null
            Set-XenstorePermission -Path /local/domain/5 -Permission n5
            Set-XenstoreItem -Path /local/domain/5/name -Value guest5
            Set-XenstoreItem -Path /vm/web01/name -Value web01
            Set-XenstoreItem -Path /vm/test/memory -Value 1024
            Set-XenstoreItem -Path /vm/test/features/sg -Value 1
            Set-XenstoreItem -Path /vm/test/features/gso -Value 0
        }
        $setups = @{
            'Get-XenstorePermission #2' = { New-XenstoreItem -Path /local/domain/5/data | Out-Null; Set-XenstorePermission -Path /local/domain/5/data -Permission n5 }
            'New-XenstoreItem #1'       = { Remove-XenstoreItem -Path /local/domain/0/backend/vif/3/0 -Recurse }
            'about_Xenstore_Provider #5' = { Remove-XenstoreItem -Path /vm/test/memory }
            'Set-XenstoreItem #3'       = { Set-Content -Path ./nodes.csv -Value 'Path,Value', '/vm/test/memory,1024', '/vm/test/vcpus,2' }
            'Start-XenstoreServer #2'   = { if (-not (Get-Command xenstore-write -ErrorAction Ignore)) { throw 'xenstore-utils is not installed' } }
        }
        # Examples that show an error on purpose, by its error id.
        $expectedErrors = @{
            'Connect-Xenstore #2' = 'XenstoreAccessDenied,*'
        }

        # Runs one example in a runspace of its own, as a user would type it in a fresh session, and reports what it
        # wrote, its errors, and whether it ended within the time allowed.
        function Invoke-Example([string] $Name, [string] $Code, [scriptblock] $Setup, [double] $TimeoutSeconds = 60) {
            $directory = Join-Path $TestDrive ($Name -replace '[^A-Za-z0-9]', '-')
            New-Item -ItemType Directory -Path $directory -Force | Out-Null
            $ps = [PowerShell]::Create()
            try {
                $prelude = @"
`$env:XENSTORED_PATH = '$env:XENSTORED_PATH'
Import-Module '$manifestPath'
Set-Location -LiteralPath '$directory'
`$ConfirmPreference = 'None'
"@
                $null = $ps.AddScript($prelude).AddStatement()
                # An example that starts the session's store itself runs in a fresh session; every other one finds the
                # session talking to a populated embedded server named 'test'.
                $ownsStore = @($Code -split "`n" | Where-Object { $_ -match 'Start-XenstoreServer' -and $_ -notmatch '-NoConnect' }).Count -gt 0
                if (-not $ownsStore) {
                    $null = $ps.AddScript("Start-XenstoreServer -Name test -SocketPath (Join-Path '$directory' 'test.sock') | Out-Null").AddStatement()
                    $null = $ps.AddScript($populate.ToString()).AddStatement()
                }

                if ($Setup) {
                    $null = $ps.AddScript($Setup.ToString()).AddStatement()
                }

                $null = $ps.AddScript('$Error.Clear()').AddStatement()
                $null = $ps.AddScript($Code)
                $clock = [Diagnostics.Stopwatch]::StartNew()
                $async = $ps.BeginInvoke()
                $ended = $async.AsyncWaitHandle.WaitOne([TimeSpan]::FromSeconds($TimeoutSeconds))
                $output = $null
                $terminating = $null
                if ($ended) {
                    try { $output = $ps.EndInvoke($async) } catch { $terminating = $_.Exception.InnerException ?? $_.Exception }
                }
                else {
                    $ps.Stop()
                }

                [pscustomobject]@{
                    Ended       = $ended
                    Seconds     = $clock.Elapsed.TotalSeconds
                    Output      = $output
                    Errors      = @($ps.Streams.Error)
                    Terminating = $terminating
                }
            }
            finally {
                $cleanup = [PowerShell]::Create()
                $cleanup.Runspace = $ps.Runspace
                $null = $cleanup.AddScript('Get-Job | Remove-Job -Force; Get-PSDrive -PSProvider Xenstore | Where-Object Name -ne Xs | Remove-PSDrive; Disconnect-Xenstore -Confirm:$false; Get-XenstoreServer | Stop-XenstoreServer -Confirm:$false')
                $null = $cleanup.Invoke()
                $cleanup.Dispose()
                $ps.Runspace.Dispose()
                $ps.Dispose()
            }
        }
    }

    AfterAll {
        $env:PSModulePath = $savedModulePath
    }

    It '<Name>' -ForEach $exampleCases {
        if ($needsXen.ContainsKey($Name)) {
            Set-ItResult -Skipped -Because $needsXen[$Name]
            return
        }

        $result = Invoke-Example -Name $Name -Code $Code -Setup $setups[$Name]
        $result.Ended | Should -BeTrue -Because "the example should end within 60 s:`n$Code"
        if ($expectedErrors.ContainsKey($Name)) {
            # The example ends with the error it shows (-ErrorAction Stop makes it terminating).
            $shown = @($result.Errors) + @($result.Terminating.ErrorRecord | Where-Object { $_ })
            @($shown.FullyQualifiedErrorId) | Should -BeLike $expectedErrors[$Name]
            return
        }

        $result.Terminating | Should -BeNullOrEmpty -Because "the example should run:`n$Code"
        ($result.Errors | Out-String) | Should -BeNullOrEmpty -Because "the example should write no error:`n$Code"
    }
}

Describe '-ErrorAction on every xenstore cmdlet' {
    BeforeAll {
        Initialize-Store
    }

    It '<Command> writes <Id> as a non-terminating error, silenced by SilentlyContinue and thrown by Stop' -ForEach @(
        @{ Command = 'Get-XenstoreItem -Path /missing'; Id = 'XenstoreNotFound' }
        @{ Command = 'Get-XenstoreItem -LiteralPath /local/*/name'; Id = 'XenstoreInvalidArgument' }
        @{ Command = 'Get-XenstoreItem -Path nodrive:/x'; Id = 'DriveNotFound' }
        @{ Command = 'Set-XenstoreItem -Path "/bad path" -Value x'; Id = 'XenstoreInvalidArgument' }
        @{ Command = 'New-XenstoreItem -Path /local'; Id = 'XenstoreExists' }
        @{ Command = 'Remove-XenstoreItem -Path /missing'; Id = 'XenstoreNotFound' }
        @{ Command = 'Remove-XenstoreItem -Path /local'; Id = 'XenstoreItemHasChildren' }
        @{ Command = 'Get-XenstorePermission -Path /missing'; Id = 'XenstoreNotFound' }
        @{ Command = 'Set-XenstorePermission -Path /missing -Permission n0'; Id = 'XenstoreNotFound' }
        @{ Command = 'Watch-XenstorePath -Path "/bad path" -Timeout 1'; Id = 'XenstoreInvalidArgument' }
        @{ Command = 'Watch-XenstorePath -Path /local -UntilValue 9 -Timeout 0.2'; Id = 'XenstoreWaitTimeout' }
        @{ Command = 'Invoke-XenstoreTransaction { $Transaction.Read("/missing") }'; Id = 'XenstoreNotFound' }
        @{ Command = 'Get-Item -Path Xs:/missing'; Id = 'PathNotFound' }
        @{ Command = 'Get-Content -Path Xs:/missing'; Id = 'PathNotFound' }
    ) {
        $failed = $null
        $output = Invoke-Expression "$Command -ErrorAction SilentlyContinue -ErrorVariable failed"
        $output | Should -BeNullOrEmpty
        @($failed).Count | Should -Be 1
        $failed[0].FullyQualifiedErrorId | Should -BeLike "$Id,*"
        $thrown = $null
        try { Invoke-Expression "$Command -ErrorAction Stop" } catch { $thrown = $_ }
        $thrown.FullyQualifiedErrorId | Should -BeLike "$Id,*" -Because '-ErrorAction Stop makes the error terminating'
    }

    It 'an error on one input does not stop the others' {
        $items = Get-XenstoreItem -Path /missing, /local/domain/1/name -ErrorAction SilentlyContinue -ErrorVariable failed
        $items.Value | Should -Be 'guest1'
        @($failed).Count | Should -Be 1
    }
}

Describe '-WhatIf on every xenstore cmdlet that changes something' {
    BeforeAll {
        Initialize-Store
    }

    It '<Command> changes nothing' -ForEach @(
        @{ Command = 'Set-XenstoreItem -Path /local/domain/1/name -Value changed'; Check = { (Get-XenstoreItem /local/domain/1/name).Value -eq 'guest1' } }
        @{ Command = 'New-XenstoreItem -Path /whatif/new'; Check = { -not (Test-Path Xs:/whatif/new) } }
        @{ Command = 'Remove-XenstoreItem -Path /local/domain/*/name'; Check = { (Get-XenstoreItem /local/domain/*/name).Count -eq 3 } }
        @{ Command = 'Set-XenstorePermission -Path /local/domain/* -Permission n7'; Check = { (Get-XenstorePermission /local/domain/1).Text -eq 'n0' } }
        @{ Command = 'Invoke-XenstoreTransaction { $Transaction.Write("/whatif/tx", "1") }'; Check = { -not (Test-Path Xs:/whatif/tx) } }
        @{ Command = 'Disconnect-Xenstore'; Check = { (Get-XenstoreItem /local/domain/1/name).Value -eq 'guest1' } }
        @{ Command = 'Set-Content -Path Xs:/local/domain/1/name -Value changed'; Check = { (Get-XenstoreItem /local/domain/1/name).Value -eq 'guest1' } }
        @{ Command = 'Remove-Item -Path Xs:/local/domain/1/device -Recurse'; Check = { Test-Path Xs:/local/domain/1/device } }
        @{ Command = 'New-Item -Path Xs:/whatif/item -Value x'; Check = { -not (Test-Path Xs:/whatif/item) } }
    ) {
        Invoke-Expression "$Command -WhatIf" | Should -BeNullOrEmpty
        & $Check | Should -BeTrue
    }
}

Describe 'Ctrl+C on the xenstore cmdlets that wait' {
    BeforeAll {
        # Runs a command in a PowerShell of its own, on an embedded store prepared first, and stops it (what Ctrl+C
        # does) once it has run for a second; reports how long the stop took.
        function Stop-Command([string] $Command) {
            $ps = [PowerShell]::Create()
            try {
                $null = $ps.AddScript("`$env:XENSTORED_PATH = '$env:XENSTORED_PATH'; Import-Module '$manifestPath'; Start-XenstoreServer | Out-Null; Set-XenstoreItem /a 1; 1..500 | ForEach-Object { Set-XenstoreItem /big/n`$_ x }").Invoke()
                $ps.Commands.Clear()
                $null = $ps.AddScript($Command)
                $async = $ps.BeginInvoke()
                Start-Sleep -Seconds 1
                $runningBeforeStop = $ps.InvocationStateInfo.State -eq 'Running'
                $clock = [Diagnostics.Stopwatch]::StartNew()
                $ps.Stop()
                $ended = $async.AsyncWaitHandle.WaitOne([TimeSpan]::FromSeconds(10))
                [pscustomobject]@{ RunningBeforeStop = $runningBeforeStop; Ended = $ended; Seconds = $clock.Elapsed.TotalSeconds; State = $ps.InvocationStateInfo.State }
            }
            finally {
                $cleanup = [PowerShell]::Create()
                $cleanup.Runspace = $ps.Runspace
                $null = $cleanup.AddScript('Disconnect-Xenstore -Confirm:$false; Get-XenstoreServer | Stop-XenstoreServer -Confirm:$false').Invoke()
                $cleanup.Dispose()
                $ps.Runspace.Dispose()
                $ps.Dispose()
            }
        }
    }

    It '<Command> stops within a second' -ForEach @(
        @{ Command = 'Watch-XenstorePath -Path /a' }
        @{ Command = 'Watch-XenstorePath -Path /a -IncludeValue -Timeout 600' }
        @{ Command = 'Watch-XenstorePath -Path /a -UntilValue 9' }
        @{ Command = 'Watch-XenstorePath -Path /a -Until { $false } -Timeout 600' }
        @{ Command = 'Invoke-XenstoreTransaction { Start-Sleep -Seconds 60 }' }
        @{ Command = 'Get-XenstoreItem -Path /big -Recurse | ForEach-Object { Start-Sleep -Milliseconds 100 }' }
        @{ Command = 'Get-ChildItem -Path Xs:/big | ForEach-Object { Start-Sleep -Milliseconds 100 }' }
        @{ Command = 'Get-XenstoreItem -Path /big/* | ForEach-Object { Start-Sleep -Milliseconds 100 }' }
    ) {
        $result = Stop-Command $Command
        $result.RunningBeforeStop | Should -BeTrue
        $result.Ended | Should -BeTrue
        $result.State | Should -Be 'Stopped'
        $result.Seconds | Should -BeLessThan 1
    }
}
