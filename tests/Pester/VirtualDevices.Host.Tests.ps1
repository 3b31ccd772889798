#Requires -Version 7.4
# Pester 5 tests of the session's device host as users meet it: default names are per session (runspace) and skip
# names in use, a failed open or connect uses up no name, server names follow the same rule, and closing a runspace
# closes what it opened, servers before the devices they serve.
# Run with: Invoke-Pester ./tests/Pester/VirtualDevices.Host.Tests.ps1 (after `dotnet build src/VirtualDevices.PowerShell`).

BeforeAll {
    . (Join-Path $PSScriptRoot 'Helpers/TestHelpers.ps1')
    $ModulePath = Join-Path $PSScriptRoot '../../out/VirtualDevices/VirtualDevices.psd1'
    Import-Module $ModulePath -Force

    # A sparse disk image of its own under TestDrive.
    function New-TestImage([long] $Size) {
        $path = Join-Path $TestDrive ('img-' + [guid]::NewGuid().ToString('N').Substring(0, 8) + '.img')
        $file = [IO.File]::Create($path)
        try { $file.SetLength($Size) } finally { $file.Dispose() }
        $path
    }

    # Runs a script in a new runspace of this process (a session of its own) and closes the runspace after it.
    function Invoke-InRunspace([scriptblock] $Script, [object[]] $Arguments = @()) {
        $ps = [powershell]::Create()
        try {
            $null = $ps.AddScript("Import-Module '$ModulePath'").AddStatement().AddScript($Script.ToString())
            foreach ($argument in $Arguments) { $null = $ps.AddArgument($argument) }
            $async = $ps.BeginInvoke()
            if (-not $async.AsyncWaitHandle.WaitOne([TimeSpan]::FromSeconds(60))) { $ps.Stop(); throw 'The runspace did not finish within 60 s.' }
            $output = $ps.EndInvoke($async)
            if ($ps.Streams.Error.Count -gt 0) { throw $ps.Streams.Error[0] }
            $output
        }
        finally {
            $ps.Runspace.Close()
            $ps.Dispose()
        }
    }
}

Describe 'Device names' {
    AfterEach {
        Get-NbdServer | Stop-NbdServer -Confirm:$false
        Get-BlockDevice | Close-BlockDevice -Force
    }

    It 'a default name skips a name the user gave (it was DeviceNameInUse)' {
        $given = New-BlockDevice -Size 1MB -Name ('memory' + 0)
        $others = 1..2 | ForEach-Object { New-BlockDevice -Size 1MB }
        $given.Name | Should -Be 'memory0'
        $others.Name | Should -Not -Contain 'memory0'
        @($others.Name | Select-Object -Unique).Count | Should -Be 2
        # Given names beyond the sequence are skipped too when the sequence reaches them.
        $next = [int]($others[-1].Name -replace '^memory') + 1
        $null = New-BlockDevice -Size 1MB -Name "memory$next"
        (New-BlockDevice -Size 1MB).Name | Should -Be "memory$($next + 1)"
    }

    It 'each session (runspace) names its devices from 0, whatever other sessions of the process opened' {
        $null = New-BlockDevice -Size 1MB
        $null = New-BlockDevice -Size 1MB
        $names = Invoke-InRunspace { (New-BlockDevice -Size 1MB).Name; (New-BlockDevice -Size 1MB).Name }
        $names | Should -Be @('memory0', 'memory1')
    }

    It 'a failed open or connect uses up no default name' {
        $first = Open-BlockDevice -Path (New-TestImage -Size 1MB)
        { Open-BlockDevice -Path (Join-Path $TestDrive 'missing.img') -ErrorAction Stop } | Should -Throw
        $second = Open-BlockDevice -Path (New-TestImage -Size 1MB)
        [int]($second.Name -replace '^file') | Should -Be ([int]($first.Name -replace '^file') + 1)
    }

    It 'server names follow the same rule: a given name is skipped by the default ones' {
        $disk = New-BlockDevice -Size 1MB
        $given = Start-NbdServer -Device $disk -SocketPath (Join-Path $TestDrive 'g.sock') -Name nbd-server0
        $default = Start-NbdServer -Device $disk -SocketPath (Join-Path $TestDrive 'd.sock')
        $given.Name | Should -Be 'nbd-server0'
        $default.Name | Should -Not -Be 'nbd-server0'
        (Get-NbdServer).Name | Should -Be @('nbd-server0', $default.Name)
    }
}

Describe 'Closing a session' {
    AfterEach {
        Get-BlockDevice | Close-BlockDevice -Force
    }

    It 'stops its servers before it closes the devices they serve, and removes their sockets' {
        $socket = Join-Path $TestDrive 'closing.sock'
        $image = New-TestImage -Size 1MB
        Invoke-InRunspace {
            param($socket, $image)
            $disk = Open-BlockDevice -Path $image
            $null = Start-NbdServer -Device $disk -SocketPath $socket
            $null = Start-XenstoreServer -SocketPath "$socket.xs"
        } -Arguments $socket, $image
        Wait-Condition { -not (Test-Path $socket) -and -not (Test-Path "$socket.xs") } 15 | Should -BeTrue
        # The image's lock went with its device: this session can open it read-write.
        $reopened = Open-BlockDevice -Path $image
        $reopened.IsConnected | Should -BeTrue
    }
}
