#Requires -Version 7.4
# Pester 5 tests of how the block and device cmdlets bind what an admin gives them (device objects, names, files,
# wildcards; from the pipeline, positionally, by name), and of what they do with it on disks of realistic size:
# transfers of 16 MiB and more with Write-Progress, -OutFile that never removes what the command did not create,
# copies between sector sizes, devices pinned while an NBD server exports them, unknown names as non-terminating
# errors, image locks shared with qemu. Run with: Invoke-Pester ./tests/Pester (after `dotnet build src/VirtualDevices.PowerShell`).

BeforeDiscovery {
    $nbdkit = [bool](Get-Command nbdkit -CommandType Application -ErrorAction SilentlyContinue)
    $qemuNbd = [bool](Get-Command qemu-nbd -CommandType Application -ErrorAction SilentlyContinue)
}

BeforeAll {
    . (Join-Path $PSScriptRoot 'Helpers/TestHelpers.ps1')
    $ModulePath = Join-Path $PSScriptRoot '../../out/VirtualDevices/VirtualDevices.psd1'
    Import-Module $ModulePath -Force
    Get-NbdServer | Stop-NbdServer -Confirm:$false
    Get-BlockDevice | Close-BlockDevice -Force -Confirm:$false

    # Reads $Length bytes of a file at $Offset, bypassing the module.
    function Read-FileBytes([string] $Path, [long] $Offset, [int] $Length) {
        $stream = [IO.File]::OpenRead($Path)
        try {
            $buffer = [byte[]]::new($Length)
            $stream.Position = $Offset
            $stream.ReadExactly($buffer, 0, $Length)
            , $buffer
        } finally { $stream.Dispose() }
    }

    # Runs a script in a fresh hosted PowerShell with the module imported, and returns its output, errors and
    # progress records: the Write-Progress records a user sees are in the Progress stream there.
    function Invoke-Hosted([string] $Script, [hashtable] $Arguments = @{}) {
        $ps = [PowerShell]::Create()
        try {
            $null = $ps.AddScript("Import-Module '$ModulePath'; `$ProgressPreference = 'Continue'").AddStatement()
            $null = $ps.AddScript($Script)
            foreach ($key in $Arguments.Keys) { $null = $ps.AddParameter($key, $Arguments[$key]) }
            $async = $ps.BeginInvoke()
            if (-not $async.AsyncWaitHandle.WaitOne(120000)) {
                $ps.Stop()
                throw 'the hosted script did not finish within 120 s'
            }
            $output = $ps.EndInvoke($async)
            [pscustomobject]@{ Output = @($output); Errors = @($ps.Streams.Error); Progress = @($ps.Streams.Progress) }
        } finally { $ps.Dispose() }
    }

    $Big = Join-Path $TestDrive '1GiB-sparse.img'
    & truncate -s 1G $Big
    # A recognisable run at 512 MiB, read back by every transfer test.
    $Pattern = New-RandomBytes 65536 7
    $stream = [IO.File]::OpenWrite($Big)
    $stream.Position = 512MB
    $stream.Write($Pattern, 0, $Pattern.Length)
    $stream.Dispose()
}

AfterAll {
    Get-NbdServer | Stop-NbdServer -Confirm:$false
    Get-BlockDevice | Close-BlockDevice -Force -Confirm:$false
}

Describe 'Transfers of 16 MiB and more, with Write-Progress' {
    It 'reads a 1 GiB sparse image to a file, showing progress, and the copy is exact' {
        $out = Join-Path $TestDrive 'whole.bin'
        $r = Invoke-Hosted 'param($Big, $Out) Read-BlockDevice -Path $Big -OutFile $Out -PassThru' @{ Big = $Big; Out = $out }
        $r.Errors | Should -BeNullOrEmpty
        $r.Output[0].Bytes | Should -Be 1GB
        (Get-Item -LiteralPath $out).Length | Should -Be 1GB
        Get-BytesHash (Read-FileBytes $out 512MB 65536) | Should -Be (Get-BytesHash $Pattern)
        $r.Progress.Count | Should -BeGreaterThan 1
        $r.Progress[-1].RecordType | Should -Be 'Completed'
        # The closing record carries the whole transfer, not the last sample (which could be 250 ms old).
        $r.Progress[-1].PercentComplete | Should -Be 100
        $r.Progress[-1].StatusDescription | Should -BeLike '1.0 GiB of 1.0 GiB, *iB/s'
        $r.Progress[0].Activity | Should -BeLike 'Reading 1GiB-sparse.img to *'
        # Reports come from several workers: percentages never go back.
        $percentages = @($r.Progress | ForEach-Object PercentComplete)
        for ($i = 1; $i -lt $percentages.Count; $i++) { $percentages[$i] | Should -BeGreaterOrEqual $percentages[$i - 1] }
    }

    It 'writes a 32 MiB file to an image with -InFile, showing progress' {
        $in = Join-Path $TestDrive 'in32.bin'
        $bytes = New-RandomBytes 32MB 3
        [IO.File]::WriteAllBytes($in, $bytes)
        $target = Join-Path $TestDrive 'target.img'
        & truncate -s 64M $target
        $r = Invoke-Hosted 'param($T, $In) Write-BlockDevice -Path $T -InFile $In -Sector 2048 -Force -PassThru' @{ T = $target; In = $in }
        $r.Errors | Should -BeNullOrEmpty
        $r.Output[0].Bytes | Should -Be 32MB
        Get-BytesHash (Read-FileBytes $target 1MB 32MB) | Should -Be (Get-BytesHash $bytes)
        $r.Progress.Count | Should -BeGreaterThan 0
        $r.Progress[-1].RecordType | Should -Be 'Completed'
    }

    It 'streams 64 MiB through the pipeline, showing progress' {
        $r = Invoke-Hosted 'param($Big) Read-BlockDevice -Path $Big -Sector (512MB / 512) -Count 131072 -SectorsPerObject 2048 | Measure-Object -Property Length -Sum' @{ Big = $Big }
        $r.Errors | Should -BeNullOrEmpty
        $r.Output[0].Count | Should -Be 64
        $r.Output[0].Sum | Should -Be 64MB
        $r.Progress.Count | Should -BeGreaterThan 0
    }

    It 'works with $ProgressPreference SilentlyContinue too' {
        $ProgressPreference = 'SilentlyContinue'
        $out = Join-Path $TestDrive 'quiet.bin'
        Read-BlockDevice -Path $Big -Sector 0 -Count 65536 -OutFile $out -ErrorAction Stop
        (Get-Item -LiteralPath $out).Length | Should -Be 32MB
    }

    It 'reads 64 MiB of an NBD export with -Uri -OutFile' {
        $socket = Join-Path $TestDrive 'uri.sock'
        $server = Start-NbdServer -Path $Big -ReadOnly -SocketPath $socket
        try {
            $out = Join-Path $TestDrive 'uri.bin'
            $r = Invoke-Hosted 'param($U, $Out) Read-BlockDevice -Uri $U -Offset 512MB -Length 64MB -OutFile $Out -PassThru' @{ U = "nbd+unix:///?socket=$socket"; Out = $out }
            $r.Errors | Should -BeNullOrEmpty
            (Get-Item -LiteralPath $out).Length | Should -Be 64MB
            Get-BytesHash (Read-FileBytes $out 0 65536) | Should -Be (Get-BytesHash $Pattern)
            $r.Progress.Count | Should -BeGreaterThan 0
        } finally { $server | Stop-NbdServer -Confirm:$false }
    }
}

Describe 'A failed -OutFile removes only a file the command created' -Skip:(-not $nbdkit) {
    BeforeAll {
        # An export whose every read fails with EIO: the copy fails after the output is opened.
        $FailSocket = Join-Path $TestDrive 'fail.sock'
        $FailPeer = Start-Peer nbdkit @('-f', '-U', $FailSocket, '--filter=error', 'memory', '64M', 'error-pread=EIO', 'error-pread-rate=100%') $FailSocket
        $FailUri = "nbd+unix:///?socket=$FailSocket"
    }
    AfterAll { Stop-Peer $FailPeer }

    It 'removes a new output file it created when the copy fails' {
        $out = Join-Path $TestDrive 'new-output.bin'
        Read-BlockDevice -Uri $FailUri -OutFile $out -ErrorVariable failure -ErrorAction SilentlyContinue
        $failure | Should -Not -BeNullOrEmpty
        Test-Path -LiteralPath $out | Should -BeFalse
    }

    It 'leaves a file that existed before in place (replaced as Out-File replaces it)' {
        $out = Join-Path $TestDrive 'precious.bin'
        Set-Content -LiteralPath $out -Value 'precious'
        Read-BlockDevice -Uri $FailUri -OutFile $out -ErrorVariable failure -ErrorAction SilentlyContinue
        $failure | Should -Not -BeNullOrEmpty
        Test-Path -LiteralPath $out | Should -BeTrue
    }

    It 'never removes a device node: /dev/null survives a failed copy' -Skip:(-not (Test-Path /dev/null)) {
        Read-BlockDevice -Uri $FailUri -OutFile /dev/null -ErrorVariable failure -ErrorAction SilentlyContinue
        $failure | Should -Not -BeNullOrEmpty
        (& stat -c %F /dev/null) | Should -Be 'character special file'
    }

    It 'never removes a fifo' {
        $fifo = Join-Path $TestDrive 'out.fifo'
        & mkfifo $fifo
        # A reader, so that opening the fifo for writing does not wait forever.
        $reader = [Diagnostics.Process]::Start('/usr/bin/timeout', @('30', 'cat', $fifo))
        try {
            Read-BlockDevice -Uri $FailUri -OutFile $fifo -ErrorVariable failure -ErrorAction SilentlyContinue
            $failure | Should -Not -BeNullOrEmpty
            (& stat -c %F $fifo) | Should -Be 'fifo'
        } finally { Stop-Peer $reader }
    }

    It 'removes a new output file when the user stops the copy (Ctrl+C)' {
        $out = Join-Path $TestDrive 'stopped.bin'
        $ps = [PowerShell]::Create()
        try {
            # A rate-limited export: the 64 MiB copy takes far longer than the moment before Stop.
            $slowSocket = Join-Path $TestDrive 'slow.sock'
            $slow = Start-Peer nbdkit @('-f', '-U', $slowSocket, '--filter=rate', 'memory', '64M', 'rate=4M') $slowSocket
            $null = $ps.AddScript("Import-Module '$ModulePath'; Read-BlockDevice -Uri 'nbd+unix:///?socket=$slowSocket' -OutFile '$out'")
            $async = $ps.BeginInvoke()
            $deadline = [DateTime]::UtcNow.AddSeconds(10)
            while (-not (Test-Path -LiteralPath $out) -and [DateTime]::UtcNow -lt $deadline) { Start-Sleep -Milliseconds 20 }
            Test-Path -LiteralPath $out | Should -BeTrue
            $ps.Stop()
            Test-Path -LiteralPath $out | Should -BeFalse
        } finally { $ps.Dispose(); Stop-Peer $slow }
    }

    It '-NoClobber refuses an existing file and leaves it as it was' {
        $out = Join-Path $TestDrive 'keep.bin'
        Set-Content -LiteralPath $out -Value 'keep'
        Read-BlockDevice -Path $Big -Count 1 -OutFile $out -NoClobber -ErrorVariable failure -ErrorAction SilentlyContinue
        $failure[0].FullyQualifiedErrorId | Should -BeLike 'OutFileExists,*'
        Get-Content -LiteralPath $out | Should -Be 'keep'
    }

    It 'replaces an existing file without -NoClobber, as Out-File does' {
        $out = Join-Path $TestDrive 'replace.bin'
        Set-Content -LiteralPath $out -Value ('x' * 5000)
        Read-BlockDevice -Path $Big -Count 1 -OutFile $out -ErrorAction Stop
        (Get-Item -LiteralPath $out).Length | Should -Be 512
    }
}

Describe 'Copies between devices of different sector sizes land at the same byte offset' {
    BeforeEach {
        $src = New-BlockDevice -Size 1MB -Name src512
        $dst = New-BlockDevice -Size 1MB -SectorSize 4096 -Name dst4k
        $bytes = New-RandomBytes 8192 5
        Write-BlockDevice -Device src512 -Sector 8 -Data $bytes -Force
    }
    AfterEach { Get-BlockDevice | Close-BlockDevice -Force -Confirm:$false }

    It 'copies 512-byte sectors onto a 4096-byte device through the pipeline' {
        Read-BlockDevice -Device src512 -Count 32 -SectorsPerObject 8 | Write-BlockDevice -Device dst4k -Force
        Get-BytesHash (Read-BlockDevice -Device dst4k -Offset 4096 -Length 8192).Data | Should -Be (Get-BytesHash $bytes)
        # Nothing landed at sector 8 of the 4096-byte device (byte 32768), where the unconverted sector number pointed.
        (Read-BlockDevice -Device dst4k -Sector 8 -Count 1).Data | Where-Object { $_ } | Should -BeNullOrEmpty
    }

    It 'copies 4096-byte sectors onto a 512-byte device' {
        Write-BlockDevice -Device dst4k -Sector 3 -Data $bytes[0..4095] -Force
        Read-BlockDevice -Device dst4k -Sector 3 -Count 1 | Write-BlockDevice -Device src512 -Force
        Get-BytesHash (Read-BlockDevice -Device src512 -Offset 12288 -Length 4096).Data | Should -Be (Get-BytesHash ([byte[]]($bytes[0..4095])))
    }

    It 'refuses a piece that does not fall on the destination''s sectors, with a typed error' {
        Read-BlockDevice -Device src512 -Sector 1 -Count 8 -SectorsPerObject 8 |
            Write-BlockDevice -Device dst4k -Force -ErrorVariable failure -ErrorAction SilentlyContinue
        $failure[0].FullyQualifiedErrorId | Should -BeLike 'BlockMisaligned,*'
        $failure[0].CategoryInfo.Category | Should -Be 'InvalidArgument'
    }

    It 'refuses -Sector on the command line with piped objects that carry their offset' {
        Read-BlockDevice -Device src512 -Count 8 -SectorsPerObject 8 |
            Write-BlockDevice -Device dst4k -Sector 2 -Force -ErrorVariable failure -ErrorAction SilentlyContinue
        $failure[0].FullyQualifiedErrorId | Should -BeLike 'InvalidArgument,*'
    }

    It 'gives a qemu-nbd export 512-byte sectors and copies land where they belong in its image' -Skip:(-not $qemuNbd) {
        $image = Join-Path $TestDrive 'qemu.img'
        & truncate -s 256M $image
        $socket = Join-Path $TestDrive 'qemu.sock'
        $peer = Start-Peer qemu-nbd @('-f', 'raw', '-k', $socket, '-t', '-e', '2', $image) $socket
        try {
            $nbd = Connect-NbdDevice -SocketPath $socket
            (Get-BlockDeviceInfo -Device $nbd).SectorSize | Should -Be 512
            $nbd.Info.SectorCount | Should -Be (256MB / 512)
            Read-BlockDevice -Device src512 -Count 32 -SectorsPerObject 8 | Write-BlockDevice -Device $nbd -Force
            Disconnect-NbdDevice $nbd
            Get-BytesHash (Read-FileBytes $image 4096 8192) | Should -Be (Get-BytesHash $bytes)
        } finally { Get-BlockDevice | Where-Object Driver -eq 'nbd' | Disconnect-NbdDevice; Stop-Peer $peer }
    }
}

Describe 'Devices bind from the pipeline, positionally, by name and as files' {
    BeforeAll {
        $Image = Join-Path $TestDrive 'bind.img'
        & truncate -s 16M $Image
    }
    BeforeEach {
        Get-NbdServer | Stop-NbdServer -Confirm:$false
        Get-BlockDevice | Close-BlockDevice -Force -Confirm:$false
        $disk = New-BlockDevice -Size 16MB -Name disk
    }

    It 'README set-up: New-BlockDevice -Size 16MB | Get-BlockDeviceInfo' {
        $info = New-BlockDevice -Size 16MB | Get-BlockDeviceInfo
        $info.SectorCount | Should -Be 32768
        $info.Driver | Should -Be 'memory'
    }

    It 'Get-BlockDeviceInfo takes <Case>' -ForEach @(
        @{ Case = 'a piped device'; Run = { $disk | Get-BlockDeviceInfo } }
        @{ Case = 'a device positionally'; Run = { Get-BlockDeviceInfo $disk } }
        @{ Case = 'a device by -Device'; Run = { Get-BlockDeviceInfo -Device $disk } }
        @{ Case = 'a piped name'; Run = { 'disk' | Get-BlockDeviceInfo } }
        @{ Case = 'a name positionally'; Run = { Get-BlockDeviceInfo disk } }
        @{ Case = 'a name by -Device'; Run = { Get-BlockDeviceInfo -Device disk } }
    ) {
        (& $Run).Device | Should -Be 'disk'
    }

    It 'takes lists of devices, names or both for -Device (<Case>)' -ForEach @(
        @{ Case = 'Get-BlockDeviceInfo'; Run = { param($a, $b) (Get-BlockDeviceInfo -Device $a, $b).Device } }
        @{ Case = 'Get-BlockDeviceInfo, positional'; Run = { param($a, $b) (Get-BlockDeviceInfo $a, $b).Device } }
        @{ Case = 'Get-DeviceStats'; Run = { param($a, $b) (Get-DeviceStats -Device $a, $b).Device } }
        @{ Case = 'Close-BlockDevice'; Run = { param($a, $b) Close-BlockDevice -Device $a, $b -Confirm:$false; @(Get-BlockDevice | ForEach-Object Name) } }
    ) {
        $second = New-BlockDevice -Size 1MB -Name second
        $expected = if ($Case -eq 'Close-BlockDevice') { @() } else { @('disk', 'second') }
        @(& $Run $disk $second) | Should -Be $expected
        Get-BlockDevice | Close-BlockDevice -Force -Confirm:$false
        $disk = New-BlockDevice -Size 16MB -Name disk
        $second = New-BlockDevice -Size 1MB -Name second
        @(& $Run $disk 'second') | Should -Be $expected
    }

    It 'Get-BlockDeviceInfo takes piped files, wildcards and -LiteralPath' {
        (Get-Item -LiteralPath $Image | Get-BlockDeviceInfo).SectorCount | Should -Be 32768
        (Get-ChildItem -LiteralPath $TestDrive -Filter 'bind.*' | Get-BlockDeviceInfo).SectorCount | Should -Be 32768
        (Get-BlockDeviceInfo (Join-Path $TestDrive 'bind.i?g')).SectorCount | Should -Be 32768
        (Get-BlockDeviceInfo -LiteralPath $Image).SectorCount | Should -Be 32768
        # -LiteralPath takes [ ] as written; -Path reads them as a wildcard set.
        $odd = Join-Path $TestDrive 'img[1].img'
        & truncate -s 1M $odd
        (Get-BlockDeviceInfo -LiteralPath $odd).SectorCount | Should -Be 2048
        Get-BlockDeviceInfo -Path $odd | Should -BeNullOrEmpty
    }

    It 'Read-BlockDevice takes <Case>' -ForEach @(
        @{ Case = 'a piped device'; Run = { $disk | Read-BlockDevice -Count 1 } }
        @{ Case = 'a device positionally'; Run = { Read-BlockDevice $disk -Count 1 } }
        @{ Case = 'a device by -Device'; Run = { Read-BlockDevice -Device $disk -Count 1 } }
        @{ Case = 'a piped name'; Run = { 'disk' | Read-BlockDevice -Count 1 } }
        @{ Case = 'a name positionally'; Run = { Read-BlockDevice disk -Count 1 } }
        @{ Case = 'a name by -Device'; Run = { Read-BlockDevice -Device disk -Count 1 } }
        @{ Case = 'Get-BlockDevice piped'; Run = { Get-BlockDevice disk | Read-BlockDevice -Count 1 } }
    ) {
        $block = & $Run
        $block.Device | Should -Be 'disk'
        $block.Length | Should -Be 512
    }

    It 'Read-BlockDevice takes piped files, a wildcard and -LiteralPath' {
        (Get-ChildItem -LiteralPath $TestDrive -Filter 'bind.img' | Read-BlockDevice -Count 1).Device | Should -Be 'bind.img'
        (Read-BlockDevice (Join-Path $TestDrive 'bind.im*') -Count 1).Device | Should -Be 'bind.img'
        (Read-BlockDevice -LiteralPath $Image -Count 1).Device | Should -Be 'bind.img'
    }

    It 'Get-BlockDeviceAllocation takes <Case>' -ForEach @(
        @{ Case = 'piped devices'; Run = { Get-BlockDevice | Get-BlockDeviceAllocation -Count 8 } }
        @{ Case = 'a device positionally'; Run = { Get-BlockDeviceAllocation $disk -Count 8 } }
        @{ Case = 'a piped name'; Run = { 'disk' | Get-BlockDeviceAllocation -Count 8 } }
        @{ Case = 'a name by -Device'; Run = { Get-BlockDeviceAllocation -Device disk -Count 8 } }
    ) {
        $extents = @(& $Run)
        $extents.Count | Should -BeGreaterThan 0
        ($extents | Measure-Object -Property Count -Sum).Sum | Should -Be 8
    }

    It 'Get-BlockDeviceAllocation takes a piped file' {
        (Get-Item -LiteralPath $Image | Get-BlockDeviceAllocation | Measure-Object -Property Count -Sum).Sum | Should -Be 32768
    }

    It 'Write-BlockDevice takes a device positionally, by -Device, a name, and an image by -LiteralPath' {
        $data = New-RandomBytes 512 9
        Write-BlockDevice $disk -Sector 1 -Data $data -Force
        Write-BlockDevice -Device $disk -Sector 2 -Data $data -Force
        Write-BlockDevice disk -Sector 3 -Data $data -Force
        foreach ($sector in 1..3) { Get-BytesHash (Read-BlockDevice disk -Sector $sector -Count 1).Data | Should -Be (Get-BytesHash $data) }
        Write-BlockDevice -LiteralPath $Image -Sector 4 -Data $data -Force
        Get-BytesHash (Read-FileBytes $Image 2048 512) | Should -Be (Get-BytesHash $data)
    }

    It 'Get-DeviceStats and Reset-DeviceStats take <Case>' -ForEach @(
        @{ Case = 'a piped device'; Get = { $disk | Get-DeviceStats }; Reset = { $disk | Reset-DeviceStats -PassThru } }
        @{ Case = 'a device positionally'; Get = { Get-DeviceStats $disk }; Reset = { Reset-DeviceStats $disk -PassThru } }
        @{ Case = 'a device by -Device'; Get = { Get-DeviceStats -Device $disk }; Reset = { Reset-DeviceStats -Device $disk -PassThru } }
        @{ Case = 'a piped name'; Get = { 'disk' | Get-DeviceStats }; Reset = { 'disk' | Reset-DeviceStats -PassThru } }
        @{ Case = 'a name positionally'; Get = { Get-DeviceStats disk }; Reset = { Reset-DeviceStats disk -PassThru } }
        @{ Case = 'a name by -Device'; Get = { Get-DeviceStats -Device disk }; Reset = { Reset-DeviceStats -Device disk -PassThru } }
    ) {
        Read-BlockDevice disk -Count 4 | Out-Null
        $stats = @(& $Get)
        $stats.Count | Should -Be 1
        $stats[0].Device | Should -Be 'disk'
        $before = @(& $Reset)
        $before.Count | Should -Be 1
        $before[0].ReadOps | Should -BeGreaterThan 0
        (Get-DeviceStats disk).ReadOps | Should -Be 0
    }

    It 'Close-BlockDevice takes <Case>' -ForEach @(
        @{ Case = 'a piped device'; Run = { $disk | Close-BlockDevice } }
        @{ Case = 'a device positionally'; Run = { Close-BlockDevice $disk } }
        @{ Case = 'a device by -Device'; Run = { Close-BlockDevice -Device $disk } }
        @{ Case = 'a piped name'; Run = { 'disk' | Close-BlockDevice } }
        @{ Case = 'a name positionally'; Run = { Close-BlockDevice disk } }
        @{ Case = 'Get-BlockDevice piped'; Run = { Get-BlockDevice | Close-BlockDevice } }
    ) {
        & $Run
        Get-BlockDevice | Should -BeNullOrEmpty
        $disk.IsConnected | Should -BeFalse
    }

    It 'Disconnect-NbdDevice takes <Case>' -ForEach @(
        @{ Case = 'a piped device'; Run = { param($n) $n | Disconnect-NbdDevice } }
        @{ Case = 'a device positionally'; Run = { param($n) Disconnect-NbdDevice $n } }
        @{ Case = 'a piped name'; Run = { param($n) $n.Name | Disconnect-NbdDevice } }
        @{ Case = 'a name by -Device'; Run = { param($n) Disconnect-NbdDevice -Device $n.Name } }
    ) {
        $socket = Join-Path $TestDrive "disc-$(Get-Random).sock"
        Start-NbdServer -Device disk -SocketPath $socket | Out-Null
        $nbd = Connect-NbdDevice -SocketPath $socket
        & $Run $nbd
        $nbd.IsConnected | Should -BeFalse
        Get-BlockDevice | Where-Object Driver -eq 'nbd' | Should -BeNullOrEmpty
    }

    It 'Start-NbdServer takes <Case>' -ForEach @(
        @{ Case = 'a piped device'; Run = { param($s) $disk | Start-NbdServer -SocketPath $s } }
        @{ Case = 'a device positionally'; Run = { param($s) Start-NbdServer $disk -SocketPath $s } }
        @{ Case = 'a device by -Device'; Run = { param($s) Start-NbdServer -Device $disk -SocketPath $s } }
        @{ Case = 'a piped name'; Run = { param($s) 'disk' | Start-NbdServer -SocketPath $s } }
        @{ Case = 'a name positionally'; Run = { param($s) Start-NbdServer disk -SocketPath $s } }
    ) {
        $socket = Join-Path $TestDrive "start-$(Get-Random).sock"
        $server = & $Run $socket
        $server.Exports.Device.Name | Should -Contain 'disk'
    }
}

Describe 'Unknown device and server names are non-terminating errors' {
    BeforeAll { Get-BlockDevice | Close-BlockDevice -Force -Confirm:$false }

    It '<Command> reports DeviceNotFound, honouring -ErrorAction and -ErrorVariable' -ForEach @(
        @{ Command = 'Close-BlockDevice'; Run = { Close-BlockDevice nosuch @args } }
        @{ Command = 'Disconnect-NbdDevice'; Run = { Disconnect-NbdDevice nosuch @args } }
        @{ Command = 'Get-BlockDeviceInfo'; Run = { Get-BlockDeviceInfo -Device nosuch @args } }
        @{ Command = 'Read-BlockDevice'; Run = { Read-BlockDevice -Device nosuch @args } }
        @{ Command = 'Write-BlockDevice'; Run = { Write-BlockDevice -Device nosuch -Data ([byte[]]::new(512)) -Force @args } }
        @{ Command = 'Get-BlockDeviceAllocation'; Run = { Get-BlockDeviceAllocation -Device nosuch @args } }
        @{ Command = 'Get-DeviceStats'; Run = { Get-DeviceStats -Device nosuch @args } }
        @{ Command = 'Reset-DeviceStats'; Run = { Reset-DeviceStats -Device nosuch -Confirm:$false @args } }
        @{ Command = 'Start-NbdServer'; Run = { Start-NbdServer -Device nosuch -SocketPath (Join-Path $TestDrive 'x.sock') @args } }
    ) {
        # SilentlyContinue: nothing shown, nothing thrown, the script goes on; the error is still recorded.
        $after = $null
        . $Run -ErrorAction SilentlyContinue -ErrorVariable failure
        $after = 'went on'
        $after | Should -Be 'went on'
        $failure.Count | Should -Be 1
        $failure[0].FullyQualifiedErrorId | Should -BeLike 'DeviceNotFound,*'
        $failure[0].CategoryInfo.Category | Should -Be 'ObjectNotFound'
        $failure[0].TargetObject | Should -Be 'nosuch'
        # Stop: a terminating error of the same id.
        { & $Run -ErrorAction Stop } | Should -Throw -ErrorId 'DeviceNotFound,*'
    }

    It 'Close-BlockDevice of a list goes on past an unknown name' {
        New-BlockDevice -Size 1MB -Name known | Out-Null
        Close-BlockDevice nosuch, known -ErrorAction SilentlyContinue -ErrorVariable failure
        $failure.Count | Should -Be 1
        Get-BlockDevice known -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
    }

    It '<Command> reports <Id> for an unknown server name' -ForEach @(
        @{ Command = 'Stop-NbdServer'; Id = 'NbdServerNotFound'; Run = { Stop-NbdServer nosuch -Confirm:$false @args } }
        @{ Command = 'Stop-XenstoreServer'; Id = 'XenstoreServerNotFound'; Run = { Stop-XenstoreServer nosuch -Confirm:$false @args } }
        @{ Command = 'Connect-Xenstore'; Id = 'XenstoreServerNotFound'; Run = { Connect-Xenstore -Server nosuch @args } }
    ) {
        . $Run -ErrorAction SilentlyContinue -ErrorVariable failure
        $failure.Count | Should -Be 1
        $failure[0].FullyQualifiedErrorId | Should -BeLike "$Id,*"
        $failure[0].CategoryInfo.Category | Should -Be 'ObjectNotFound'
        $thrown = $null
        try { & $Run -ErrorAction Stop } catch { $thrown = $_ }
        $thrown.FullyQualifiedErrorId | Should -BeLike "$Id,*"
    }
}

Describe 'A device an NBD server exports is pinned' {
    BeforeEach {
        $served = New-BlockDevice -Size 16MB -Name served
        $socket = Join-Path $TestDrive "pin-$(Get-Random).sock"
        $server = Start-NbdServer -Device served -SocketPath $socket -Name pinsrv
        $client = Connect-NbdDevice -SocketPath $socket -Name pinclient
    }
    AfterEach {
        Get-BlockDevice | Where-Object Driver -eq 'nbd' | Disconnect-NbdDevice
        Get-NbdServer | Stop-NbdServer -Confirm:$false
        Get-BlockDevice | Close-BlockDevice -Force -Confirm:$false
    }

    It 'refuses to close it (DeviceInUse, ResourceBusy, naming the server), and the server and its clients go on' {
        Close-BlockDevice served -ErrorAction SilentlyContinue -ErrorVariable failure
        $failure[0].FullyQualifiedErrorId | Should -BeLike 'DeviceInUse,*'
        $failure[0].CategoryInfo.Category | Should -Be 'ResourceBusy'
        $failure[0].Exception.Message | Should -BeLike '*pinsrv*'
        $served.IsConnected | Should -BeTrue
        (Get-NbdServer pinsrv).Name | Should -Be 'pinsrv'
        Write-BlockDevice -Device pinclient -Data ([byte[]]::new(512)) -Force
        (Read-BlockDevice -Device pinclient -Count 1).Length | Should -Be 512
    }

    It 'with -Force stops the server, then closes the device' {
        Close-BlockDevice served -Force
        $served.IsConnected | Should -BeFalse
        Get-NbdServer | Should -BeNullOrEmpty
        Get-BlockDevice served -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
    }

    It 'closes normally once the server is stopped' {
        Disconnect-NbdDevice pinclient
        Stop-NbdServer pinsrv -Confirm:$false
        Close-BlockDevice served -ErrorAction Stop
        $served.IsConnected | Should -BeFalse
    }
}

Describe 'Rough edges' {
    AfterEach {
        Get-BlockDevice | Where-Object Driver -eq 'nbd' | Disconnect-NbdDevice
        Get-NbdServer | Stop-NbdServer -Confirm:$false
        Get-BlockDevice | Close-BlockDevice -Force -Confirm:$false
    }

    It 'Connect-NbdDevice warns of an export whose size is not a whole number of blocks' -Skip:(-not $nbdkit) {
        # 1,000,001 bytes with a 512-byte minimum block: the last 65 bytes are in no whole block, so no request may
        # reach them (the protocol forbids it) and a copy lacks them. Said, not cut silently.
        $socket = Join-Path $TestDrive 'odd.sock'
        $peer = Start-Peer nbdkit @('-f', '-U', $socket, '--filter=blocksize-policy', 'memory', '1000001', 'blocksize-minimum=512') $socket
        try {
            $device = Connect-NbdDevice -Uri "nbd+unix:///?socket=$socket" -Name odd -WarningVariable warned -WarningAction SilentlyContinue
            $device.Info.TrailingBytes | Should -Be 65
            @($warned).Count | Should -Be 1
            "$($warned[0])" | Should -BeLike '*not a whole number of 512-byte sectors: its last 65 bytes*'
            (Get-BlockDeviceInfo -Device odd).TrailingBytes | Should -Be 65
        } finally { Get-BlockDevice | Where-Object Driver -eq 'nbd' | Disconnect-NbdDevice; Stop-Peer $peer }
    }

    It 'Disconnect-NbdDevice completes NBD device names only (Tab)' {
        New-BlockDevice -Size 1MB -Name ramonly | Out-Null
        $socket = Join-Path $TestDrive 'tab.sock'
        Start-NbdServer -Device ramonly -SocketPath $socket | Out-Null
        Connect-NbdDevice -SocketPath $socket -Name tabnbd | Out-Null
        $line = 'Disconnect-NbdDevice '
        $completions = (TabExpansion2 -inputScript $line -cursorColumn $line.Length).CompletionMatches.CompletionText
        $completions | Should -Contain 'tabnbd'
        $completions | Should -Not -Contain 'ramonly'
        $line = 'Close-BlockDevice '
        (TabExpansion2 -inputScript $line -cursorColumn $line.Length).CompletionMatches.CompletionText | Should -Contain 'ramonly'
    }

    It 'a failed connect does not use up a device name' {
        $socket = Join-Path $TestDrive 'names.sock'
        New-BlockDevice -Size 1MB -Name namesrc | Out-Null
        Start-NbdServer -Device namesrc -SocketPath $socket | Out-Null
        $first = Connect-NbdDevice -SocketPath $socket
        foreach ($i in 1..3) {
            Connect-NbdDevice -SocketPath (Join-Path $TestDrive 'nobody.sock') -ErrorAction SilentlyContinue
        }
        $second = Connect-NbdDevice -SocketPath $socket
        [int]($second.Name -replace '^nbd') | Should -Be ([int]($first.Name -replace '^nbd') + 1)
    }

    It 'a file that is not a whole number of sectors: a warning, and TrailingBytes in the info' {
        $odd = Join-Path $TestDrive 'odd.img'
        [IO.File]::WriteAllBytes($odd, [byte[]]::new(1000))
        $info = Get-BlockDeviceInfo -LiteralPath $odd
        $info.SectorCount | Should -Be 1
        $info.TrailingBytes | Should -Be 488
        $device = Open-BlockDevice -Path $odd -WarningVariable warned -WarningAction SilentlyContinue
        $warned.Count | Should -Be 1
        $warned[0].Message | Should -BeLike '*488 bytes*'
        $device.Info.TrailingBytes | Should -Be 488
        (Get-BlockDeviceInfo -Path $Big).TrailingBytes | Should -Be 0
        # The list view shows them only when there are some, on one line at 80 columns.
        $lines = (Get-BlockDeviceInfo -LiteralPath $odd | Out-String -Width 80) -split "`n"
        $lines | Where-Object { $_ -match '^TrailingBytes\s+: 488 bytes past the last sector\s*$' } | Should -HaveCount 1
        (Get-BlockDeviceInfo -Path $Big | Out-String -Width 80) | Should -Not -Match 'TrailingBytes'
    }

    It 'refuses a second writer of an image, in the session and while qemu-nbd serves it, unless -NoLock' -Skip:(-not $qemuNbd) {
        $image = Join-Path $TestDrive 'locked.img'
        & truncate -s 64M $image
        $first = Open-BlockDevice -Path $image -Name firstwriter
        Open-BlockDevice -Path $image -Name second -ErrorAction SilentlyContinue -ErrorVariable failure
        $failure[0].FullyQualifiedErrorId | Should -BeLike 'DeviceLocked,*'
        $failure[0].CategoryInfo.Category | Should -Be 'ResourceBusy'
        Write-BlockDevice -Path $image -Data ([byte[]]::new(512)) -Force -ErrorAction SilentlyContinue -ErrorVariable failure
        $failure[0].FullyQualifiedErrorId | Should -BeLike 'DeviceLocked,*'
        (Open-BlockDevice -Path $image -ReadOnly -Name reader).Info.ReadOnly | Should -BeTrue -Because 'a reader is not refused by a writer'
        Close-BlockDevice firstwriter, reader

        $socket = Join-Path $TestDrive 'locked.sock'
        $peer = Start-Peer qemu-nbd @('-f', 'raw', '-k', $socket, '-t', $image) $socket
        try {
            Open-BlockDevice -Path $image -ErrorAction SilentlyContinue -ErrorVariable failure
            $failure[0].FullyQualifiedErrorId | Should -BeLike 'DeviceLocked,*'
            (Get-BlockDeviceInfo -Path $image).ReadOnly | Should -BeTrue -Because 'the image cannot be written while qemu-nbd writes it'
            (Open-BlockDevice -Path $image -NoLock -Name forced).Info.ReadOnly | Should -BeFalse
        } finally { Stop-Peer $peer }
    }
}
