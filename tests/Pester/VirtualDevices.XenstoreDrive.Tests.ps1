#Requires -Version 7.4
# Pester 5 tests of the Xs: drive as an administrator uses it (drives rooted below '/', relative paths, every provider
# cmdlet), of wildcards and Tab completion on the xenstore cmdlets, of -WhatIf, -ErrorAction and Ctrl+C on each of
# them, and of the help examples of the xenstore pages, run as written. Every test works on an embedded server, so no
# Xen is needed. Run with: Invoke-Pester ./tests/Pester (after `dotnet build src/VirtualDevices.PowerShell`).

BeforeAll {
    $manifestPath = Join-Path $PSScriptRoot '../../out/VirtualDevices/VirtualDevices.psd1'
    Import-Module $manifestPath -Force

    # Nothing in these tests may reach a real xenstored: the host default points at a socket that does not exist.
    $savedXenstoredPath = $env:XENSTORED_PATH
    $env:XENSTORED_PATH = Join-Path ([IO.Path]::GetTempPath()) "vd-no-xenstored-$PID.sock"

    function Reset-XenstoreSession {
        Get-PSDrive -PSProvider Xenstore | Where-Object Name -ne 'Xs' | Remove-PSDrive
        Disconnect-Xenstore -Confirm:$false
        Get-XenstoreServer | Stop-XenstoreServer -Confirm:$false
    }

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

    # The completion texts TabExpansion2 offers at the end of the input.
    function Get-Completion([string] $InputScript) {
        $result = TabExpansion2 -inputScript $InputScript -cursorColumn $InputScript.Length
        @($result.CompletionMatches | ForEach-Object CompletionText)
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
