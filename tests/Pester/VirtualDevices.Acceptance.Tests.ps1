#Requires -Version 7.4
# Acceptance: the module as an administrator uses it. Walks README.md's Quick start step by step, then the help
# examples of the block, NBD and statistics cmdlets (docs/VirtualDevices/*.md, docs/about_VirtualDevices*.md), typed
# as the help shows them, on disks of realistic size: 1 GiB sparse images with a partition table and an ext4 file
# system, 256 MiB NBD exports of our own server, of nbdkit (memory plugin) and of qemu-nbd (a 1 GiB qcow2 image).
# Every step checks its result (bytes read back, file contents compared with the image, counters, allocation maps).
#
# How the admin's session is modelled: each Describe opens its own runspace (a pwsh session: module imported, working
# directory set), and every step is the text the admin types, run in that runspace by a [powershell] instance with a
# deadline: a step that hangs is stopped and fails. The command text of a help example is checked against its page
# (each line must appear there), so the suite fails when the help changes without it; only host-specific paths,
# ports and sizes are substituted, as an admin would adapt them.
#
# The xenstore help examples have their own runner (VirtualDevices.XenstoreDrive.Tests.ps1); the README's xenstore
# steps are walked here. Run: Invoke-Pester ./tests/Pester/VirtualDevices.Acceptance.Tests.ps1 (after
# `dotnet build src/VirtualDevices.PowerShell -c Release`).

BeforeDiscovery {
    # For -Skip (discovery); the same checks are made again in BeforeAll, for the run.
    $HaveNbdkit = [bool](Get-Command nbdkit -CommandType Application -ErrorAction SilentlyContinue)
    $HaveQemuNbd = [bool](Get-Command qemu-nbd -CommandType Application -ErrorAction SilentlyContinue) -and
        [bool](Get-Command qemu-img -CommandType Application -ErrorAction SilentlyContinue)
    $HaveNbdinfo = [bool](Get-Command nbdinfo -CommandType Application -ErrorAction SilentlyContinue) -and
        [bool](Get-Command nbdcopy -CommandType Application -ErrorAction SilentlyContinue)
    $HaveMkfs = [bool](Get-Command mkfs.ext4 -CommandType Application -ErrorAction SilentlyContinue)
}

BeforeAll {
    . (Join-Path $PSScriptRoot 'Helpers/TestHelpers.ps1')
    $HaveNbdkit = [bool](Get-Command nbdkit -CommandType Application -ErrorAction SilentlyContinue)
    $HaveQemuNbd = [bool](Get-Command qemu-nbd -CommandType Application -ErrorAction SilentlyContinue) -and
        [bool](Get-Command qemu-img -CommandType Application -ErrorAction SilentlyContinue)
    $RepoRoot = (Resolve-Path (Join-Path $PSScriptRoot '../..')).Path
    $ModulePath = Join-Path $RepoRoot 'out/VirtualDevices/VirtualDevices.psd1'
    # Imported here too, for the format views when a test renders what the admin sees.
    Import-Module $ModulePath -Force

    # One temporary folder for the file, removed in AfterAll (Pester's TestDrive would be one per Describe).
    $Work = Join-Path ([IO.Path]::GetTempPath()) ('vd-accept-' + [Guid]::NewGuid().ToString('N').Substring(0, 8))
    $null = New-Item -ItemType Directory -Path $Work
    $Sessions = [Collections.Generic.List[Management.Automation.Runspaces.Runspace]]::new()
    $Peers = [Collections.Generic.List[Diagnostics.Process]]::new()

    # An admin's pwsh session: a runspace of its own, the module imported, in a folder of its own.
    function New-AdminSession([string] $Folder) {
        $location = Join-Path $Work $Folder
        $null = New-Item -ItemType Directory -Path $location -Force
        $runspace = [runspacefactory]::CreateRunspace([Management.Automation.Runspaces.InitialSessionState]::CreateDefault())
        $runspace.Open()
        $Sessions.Add($runspace)
        $null = Invoke-AdminStep $runspace "Set-Location -LiteralPath '$location'; Import-Module '$ModulePath'" -TimeoutSeconds 60
        $runspace
    }

    function Close-AdminSession([Management.Automation.Runspaces.Runspace] $Session) {
        if ($Session -and $Session.RunspaceStateInfo.State -eq 'Opened') {
            # Closing the runspace closes its devices and stops its servers (ModuleSession); bounded all the same.
            $Session.CloseAsync()
            # A session whose command never stopped (a failed Ctrl+C test) cannot close: leave it to the process's
            # exit rather than hang here in Dispose.
            if (Wait-Condition { $Session.RunspaceStateInfo.State -in 'Closed', 'Broken' } 20) { $Session.Dispose() }
            else { Write-Warning "a session did not close within 20 s (state $($Session.RunspaceStateInfo.State))" }
        }
    }

    # Runs what the admin types in the session, with a deadline, and returns everything the session produced.
    function Invoke-Admin([Management.Automation.Runspaces.Runspace] $Session, [string] $Command, [double] $TimeoutSeconds = 30) {
        $ps = [powershell]::Create()
        $ps.Runspace = $Session
        $null = $ps.AddScript($Command)
        $output = [Management.Automation.PSDataCollection[psobject]]::new()
        $clock = [Diagnostics.Stopwatch]::StartNew()
        $async = $ps.BeginInvoke([Management.Automation.PSDataCollection[psobject]] $null, $output)
        $finished = $async.AsyncWaitHandle.WaitOne([TimeSpan]::FromSeconds($TimeoutSeconds))
        $failure = $null
        if (-not $finished) {
            $stopping = $ps.BeginStop($null, $null)
            $null = $stopping.AsyncWaitHandle.WaitOne([TimeSpan]::FromSeconds(10))
        }
        else {
            try { $null = $ps.EndInvoke($async) }
            catch { $failure = if ($_.Exception.InnerException) { $_.Exception.InnerException } else { $_.Exception } }
        }
        $clock.Stop()
        [pscustomobject]@{
            Command   = $Command
            Output    = @($output)
            Errors    = @($ps.Streams.Error)
            Warnings  = @($ps.Streams.Warning)
            Progress  = @($ps.Streams.Progress)
            Exception = $failure
            TimedOut  = -not $finished
            Seconds   = $clock.Elapsed.TotalSeconds
        }
        if ($finished) { $ps.Dispose() }
    }

    function Assert-Step($Result) {
        if ($Result.TimedOut) { throw "timed out after $([int]$Result.Seconds) s: $($Result.Command)" }
        if ($Result.Exception) {
            $id = if ($Result.Exception.ErrorRecord) { $Result.Exception.ErrorRecord.FullyQualifiedErrorId } else { $Result.Exception.GetType().Name }
            throw "terminating error [$id] in '$($Result.Command)': $($Result.Exception.Message)"
        }
        if ($Result.Errors.Count) {
            throw "error(s) in '$($Result.Command)': " + (($Result.Errors | ForEach-Object { "[$($_.FullyQualifiedErrorId)] $_" }) -join '; ')
        }
    }

    # A step that must succeed: returns the result (its .Output are the objects the admin got).
    function Invoke-AdminStep([Management.Automation.Runspaces.Runspace] $Session, [string] $Command, [double] $TimeoutSeconds = 30) {
        $result = Invoke-Admin $Session $Command $TimeoutSeconds
        Assert-Step $result
        $result
    }

    # The lines of a help page as the admin types them: prompts ('PS> ', '>> ') removed, trimmed.
    $DocLines = @{}
    function Get-DocLines([string] $Page) {
        if (-not $DocLines.ContainsKey($Page)) {
            $file = if ($Page -eq 'README') { Join-Path $RepoRoot 'README.md' }
                elseif ($Page -like 'about_*') { Join-Path $RepoRoot "docs/$Page.md" }
                else { Join-Path $RepoRoot "docs/VirtualDevices/$Page.md" }
            $set = [Collections.Generic.HashSet[string]]::new([StringComparer]::Ordinal)
            foreach ($line in Get-Content -LiteralPath $file) { $null = $set.Add(($line -replace '^(PS> |>> ?)', '').Trim()) }
            $DocLines[$Page] = $set
        }
        $DocLines[$Page]
    }

    function Assert-OnPage([string] $Page, [string] $Command) {
        $lines = Get-DocLines $Page
        foreach ($line in $Command -split "`r?`n") {
            if ($line.Trim() -and -not $lines.Contains($line.Trim())) { throw "not on the page ${Page}: '$($line.Trim())'" }
        }
    }

    # Runs an example as its page shows it (every line is checked to be on the page), after substituting what an
    # admin adapts to the host (paths of peers, ports). Without -AllowErrors the step must succeed.
    function Invoke-DocExample {
        param([Management.Automation.Runspaces.Runspace] $Session, [string] $Page, [string] $Command, [hashtable] $Replace = @{},
            [double] $TimeoutSeconds = 30, [switch] $AllowErrors)
        Assert-OnPage $Page $Command
        foreach ($key in $Replace.Keys) { $Command = $Command.Replace($key, [string]$Replace[$key]) }
        $result = Invoke-Admin $Session $Command $TimeoutSeconds
        if (-not $AllowErrors) { Assert-Step $result }
        $result
    }

    # What the admin sees, rendered by the module's format views.
    function Show-Output($Result, [int] $Width = 120) { $Result.Output | Out-String -Width $Width }

    # Starts a long command in the session, waits for $Until (or $Seconds), then stops it as Ctrl+C does.
    function Stop-AdminCommand {
        param([Management.Automation.Runspaces.Runspace] $Session, [string] $Command, [scriptblock] $Until, [double] $WaitSeconds = 10)
        $ps = [powershell]::Create()
        $ps.Runspace = $Session
        $null = $ps.AddScript($Command)
        $async = $ps.BeginInvoke()
        $deadline = [DateTime]::UtcNow.AddSeconds($WaitSeconds)
        while (-not $async.IsCompleted -and -not (& $Until) -and [DateTime]::UtcNow -lt $deadline) { Start-Sleep -Milliseconds 50 }
        # Give the command a moment beyond the condition, so that it is well inside its work when stopped.
        Start-Sleep -Milliseconds 500
        $runningWhenStopped = -not $async.IsCompleted
        $clock = [Diagnostics.Stopwatch]::StartNew()
        $stopping = $ps.BeginStop($null, $null)
        $stopped = $stopping.AsyncWaitHandle.WaitOne([TimeSpan]::FromSeconds(15))
        $clock.Stop()
        $failure = $null
        if ($stopped) {
            try { $null = $ps.EndInvoke($async) } catch { $failure = $_.Exception.InnerException }
        }
        [pscustomobject]@{
            RunningWhenStopped = $runningWhenStopped
            Stopped            = $stopped
            StopSeconds        = $clock.Elapsed.TotalSeconds
            State              = $ps.InvocationStateInfo.State
            Errors             = @($ps.Streams.Error)
            Progress           = @($ps.Streams.Progress)
            Exception          = $failure
        }
    }

    # The SHA-256 of a byte range of a file.
    function Get-RangeSha256([string] $Path, [long] $Offset, [long] $Length) {
        $stream = [IO.File]::OpenRead($Path)
        try {
            $null = $stream.Seek($Offset, 'Begin')
            $buffer = [byte[]]::new($Length)
            $stream.ReadExactly($buffer, 0, $Length)
            Get-BytesHash $buffer
        }
        finally { $stream.Dispose() }
    }

    # Random bytes written into a file at an offset, without changing its size elsewhere (dd conv=notrunc).
    function Write-FileBytes([string] $Path, [long] $Offset, [byte[]] $Bytes) {
        $stream = [IO.File]::Open($Path, 'Open', 'Write')
        try { $null = $stream.Seek($Offset, 'Begin'); $stream.Write($Bytes, 0, $Bytes.Length) }
        finally { $stream.Dispose() }
    }

    # Blocks the file system really holds (a sparse image holds few).
    function Get-AllocatedBytes([string] $Path) { [long](& stat -c '%b' $Path) * [long](& stat -c '%B' $Path) }

    # Whether two files hold the same bytes, by a C tool: qemu-img compare skips the holes of sparse files (cmp reads
    # 1 GiB of zeroes from each, which takes seconds on a busy machine).
    $QemuImg = Get-Command qemu-img -CommandType Application -ErrorAction SilentlyContinue | Select-Object -First 1
    function Test-SameFile([string] $A, [string] $B) {
        if ((Get-Item -LiteralPath $A).Length -ne (Get-Item -LiteralPath $B).Length) { return $false }
        if ($QemuImg) { $null = & $QemuImg.Source compare -q -f raw -F raw $A $B 2>&1 } else { & cmp -s $A $B }
        $LASTEXITCODE -eq 0
    }

    # A 1 GiB sparse disk image as an installer makes it: an MBR with one Linux partition at sector 2048 (256 MiB)
    # holding an ext4 file system, and random data at 512 MiB (a second, unlisted region the tests copy and map).
    function New-RealisticDisk([string] $Path) {
        & truncate -s 1G $Path
        $mbr = [byte[]]::new(512)
        $mbr[0] = 0xEB; $mbr[1] = 0x63; $mbr[2] = 0x90
        $mbr[446] = 0x80; $mbr[450] = 0x83
        [BitConverter]::GetBytes([uint32]2048).CopyTo($mbr, 454)
        [BitConverter]::GetBytes([uint32]524288).CopyTo($mbr, 458)
        $mbr[510] = 0x55; $mbr[511] = 0xAA
        Write-FileBytes $Path 0 $mbr
        if (Get-Command mkfs.ext4 -CommandType Application -ErrorAction SilentlyContinue) {
            & mkfs.ext4 -q -F -E "offset=1048576" $Path 256M 2>&1 | Out-Null
            if ($LASTEXITCODE -ne 0) { throw "mkfs.ext4 failed on $Path" }
        }
        # The partition's boot block (unused by ext4, before its superblock at +1024): a recognisable sector 2048.
        Write-FileBytes $Path 1MB ([Text.Encoding]::ASCII.GetBytes('sector 2048 '.PadRight(512, '.')))
        Write-FileBytes $Path 512MB (New-RandomBytes 4MB 512)
    }
}

AfterAll {
    foreach ($session in $Sessions) { Close-AdminSession $session }
    foreach ($peer in $Peers) { Stop-Peer $peer }
    Get-BlockDevice | Close-BlockDevice -Confirm:$false
    # The help examples run here make network devices and captures too; the suites share one session.
    Get-NetworkCapture -ErrorAction Ignore | Stop-NetworkCapture -Confirm:$false | Out-Null
    Get-DeviceStats -Kind Network -ErrorAction Ignore | ForEach-Object Device | Close-NetworkDevice -Force -ErrorAction Ignore
    Remove-Item -LiteralPath $Work -Recurse -Force -ErrorAction SilentlyContinue
}

Describe 'README Quick start, step by step' {
    BeforeAll {
        # The admin starts in the repository, as the Quick start's Import-Module ./out/VirtualDevices assumes.
        $S = New-AdminSession 'quickstart'
        $Here = Join-Path $Work 'quickstart'
        $Xs = $null
    }

    AfterAll {
        Close-AdminSession $S
        Close-AdminSession $Xs
    }

    It 'Import-Module ./out/VirtualDevices works from the repository root' {
        $null = Invoke-AdminStep $S "Set-Location -LiteralPath '$RepoRoot'"
        $r = Invoke-DocExample $S README 'Import-Module ./out/VirtualDevices' -TimeoutSeconds 60
        $r = Invoke-AdminStep $S "(Get-Module VirtualDevices).ModuleBase; Set-Location -LiteralPath '$Here'"
        $r.Output[0] | Should -Be (Join-Path $RepoRoot 'out/VirtualDevices')
    }

    It '$disk = New-BlockDevice -Size 64MB: a 64 MiB RAM disk named memory0' {
        $null = Invoke-DocExample $S README '$disk = New-BlockDevice -Size 64MB'
        $r = Invoke-AdminStep $S '$disk.Name; $disk.Info.SizeBytes; $disk.Info.SectorSize'
        $r.Output | Should -Be @('memory0', 67108864, 512)
    }

    It 'writes "hello" at sector 2048 and reads it back, shown as a hex dump' {
        $null = Invoke-DocExample $S README "Write-BlockDevice -Device `$disk -Sector 2048 -Data ([Text.Encoding]::ASCII.GetBytes('hello'.PadRight(512))) -Force"
        $r = Invoke-DocExample $S README 'Read-BlockDevice -Device $disk -Sector 2048 -Count 1'
        $r.Output.Count | Should -Be 1
        $r.Output[0].Sector | Should -Be 2048
        [Text.Encoding]::ASCII.GetString($r.Output[0].Data) | Should -BeExactly 'hello'.PadRight(512)
        $text = Show-Output $r
        $text | Should -Match 'Sector: 2048'
        $text | Should -Match '68 65 6c 6c 6f 20'
        $text | Should -Match '\|hello'
        # The same bytes at byte offset 1 MiB, asked for another way.
        $r = Invoke-AdminStep $S 'Read-BlockDevice -Device memory0 -Offset 1MB -Length 512'
        [Text.Encoding]::ASCII.GetString($r.Output[0].Data, 0, 5) | Should -BeExactly 'hello'
    }

    It 'Get-BlockDeviceInfo -Device $disk describes the RAM disk' {
        $r = Invoke-DocExample $S README 'Get-BlockDeviceInfo -Device $disk'
        $r.Output[0].SectorCount | Should -Be 131072
        $r.Output[0].SizeBytes | Should -Be 64MB
        $r.Output[0].Driver | Should -Be 'memory'
        Show-Output $r 80 | Should -Match '64\.0 MiB'
    }

    It 'New-BlockDevice -Path ./disk.img -Size 1GB -Name img: a sparse 1 GiB image' {
        $r = Invoke-DocExample $S README 'New-BlockDevice -Path ./disk.img -Size 1GB -Name img'
        $r.Output[0].Name | Should -Be 'img'
        (Get-Item (Join-Path $Here 'disk.img')).Length | Should -Be 1GB
        Get-AllocatedBytes (Join-Path $Here 'disk.img') | Should -BeLessThan 1MB
    }

    It 'copies the first MiB of memory0 into img through the pipeline' {
        # Make the copied MiB recognisable first (the Quick start copies whatever memory0 holds there).
        $null = Invoke-AdminStep $S 'Write-BlockDevice -Device memory0 -Sector 100 -Data ([Text.Encoding]::ASCII.GetBytes(''boot''.PadRight(512))) -Force'
        $null = Invoke-DocExample $S README 'Read-BlockDevice -Device memory0 -Count 2048 -SectorsPerObject 256 | Write-BlockDevice -Device img -Force'
        $r = Invoke-AdminStep $S 'Read-BlockDevice -Device img -Sector 100 -Count 1'
        [Text.Encoding]::ASCII.GetString($r.Output[0].Data, 0, 4) | Should -BeExactly 'boot'
        $r = Invoke-AdminStep $S '(Get-DeviceStats -Name img).WriteBytes'
        $r.Output[0] | Should -Be 1MB
    }

    It 'Read-BlockDevice -Path ./disk.img -Count 2048 -OutFile ./first-mib.bin writes the image''s first MiB' {
        $null = Invoke-AdminStep $S 'Close-BlockDevice img'  # flushed and closed, so the file holds what was written
        $null = Invoke-DocExample $S README 'Read-BlockDevice -Path ./disk.img -Sector 0 -Count 2048 -OutFile ./first-mib.bin'
        $out = Join-Path $Here 'first-mib.bin'
        (Get-Item $out).Length | Should -Be 1MB
        Get-FileSha256 $out | Should -Be (Get-RangeSha256 (Join-Path $Here 'disk.img') 0 1MB)
        [Text.Encoding]::ASCII.GetString([IO.File]::ReadAllBytes($out), 100 * 512, 4) | Should -BeExactly 'boot'
        $null = Invoke-AdminStep $S 'Open-BlockDevice -Path ./disk.img -Name img'
    }

    It 'Get-DeviceStats counts the bytes moved on every device' {
        $r = Invoke-DocExample $S README 'Get-DeviceStats'
        $memory = $r.Output | Where-Object Device -eq 'memory0'
        # 512 (hello) + 512 (boot) written; 512 + 512 + 1 MiB (the pipeline copy) read at least.
        $memory.WriteBytes | Should -Be 1024
        $memory.ReadBytes | Should -BeGreaterOrEqual (1MB + 1024)
        ($r.Output | Where-Object Device -eq 'img') | Should -Not -BeNullOrEmpty
        Show-Output $r 120 | Should -Match 'memory0'
    }

    It 'Get-DeviceStats -Interval 1 -Count 3 samples three times, a second apart' {
        $r = Invoke-DocExample $S README 'Get-DeviceStats -Interval 1 -Count 3' -TimeoutSeconds 15
        @($r.Output | Where-Object Device -eq 'memory0').Count | Should -Be 3
        @($r.Output | Where-Object Device -eq 'img').Count | Should -Be 3
        $r.Seconds | Should -BeGreaterThan 1.8
        $r.Seconds | Should -BeLessThan 10
    }

    It 'Get-BlockDevice | Close-BlockDevice closes everything and keeps the image' {
        $null = Invoke-DocExample $S README 'Get-BlockDevice | Close-BlockDevice'
        (Invoke-AdminStep $S '@(Get-BlockDevice).Count').Output[0] | Should -Be 0
        (Get-Item (Join-Path $Here 'disk.img')).Length | Should -Be 1GB
    }

    It 'serves a RAM disk over NBD, writes through a client and maps what was written' {
        $null = Invoke-DocExample $S README '$served = New-BlockDevice -Size 64MB -Name served'
        $null = Invoke-DocExample $S README 'Start-NbdServer -Device served -SocketPath ./nbd.sock'
        Test-Path (Join-Path $Here 'nbd.sock') | Should -BeTrue
        $null = Invoke-DocExample $S README '$nbd = Connect-NbdDevice -Uri ''nbd+unix:///?socket=./nbd.sock'''
        $null = Invoke-DocExample $S README 'Write-BlockDevice -Device $nbd -Sector 0 -Data ([byte[]]::new(1MB)) -Force'
        $r = Invoke-DocExample $S README 'Get-BlockDeviceAllocation -Device $nbd'
        $r.Output[0].Offset | Should -Be 0
        $r.Output[0].Length | Should -Be 1MB
        $r.Output[0].Description | Should -BeExactly 'data'
        ($r.Output | Where-Object Offset -ge 1MB | Measure-Object Length -Sum).Sum | Should -Be (63MB)
        ($r.Output | Where-Object Offset -ge 1MB).Description | Should -Match 'hole'
        # The server's device counted the write its client made.
        (Invoke-AdminStep $S '(Get-DeviceStats -Name served).WriteBytes').Output[0] | Should -Be 1MB
    }

    It 'Disconnect-NbdDevice $nbd; Get-NbdServer | Stop-NbdServer leaves no server and no socket' {
        $null = Invoke-DocExample $S README 'Disconnect-NbdDevice $nbd; Get-NbdServer | Stop-NbdServer'
        (Invoke-AdminStep $S '@(Get-NbdServer).Count').Output[0] | Should -Be 0
        Test-Path (Join-Path $Here 'nbd.sock') | Should -BeFalse
        (Invoke-AdminStep $S '(Get-BlockDevice).Name').Output | Should -Be @('served')
        $null = Invoke-AdminStep $S 'Close-BlockDevice served'
    }

    It 'Start-XenstoreServer, Set-XenstoreItem, and the Xs: drive shows the value' {
        $null = Invoke-DocExample $S README 'Start-XenstoreServer'
        $null = Invoke-DocExample $S README 'Set-XenstoreItem /local/domain/1/name guest1'
        $r = Invoke-DocExample $S README 'Get-ChildItem Xs:/local/domain -Recurse'
        $name = $r.Output | Where-Object NodePath -eq '/local/domain/1/name'
        $name | Should -Not -BeNullOrEmpty
        $name.Value | Should -BeExactly 'guest1'
        (Invoke-AdminStep $S '(Get-XenstoreItem /local/domain/1/name).Value').Output[0] | Should -BeExactly 'guest1'
    }

    It 'Invoke-XenstoreTransaction increments /counter, once per run' {
        $null = Invoke-DocExample $S README "Invoke-XenstoreTransaction { param(`$tx) `$tx.Write('/counter', [int](`$tx.TryRead('/counter')) + 1) }"
        (Invoke-AdminStep $S '(Get-XenstoreItem /counter).Value').Output[0] | Should -BeExactly '1'
        $null = Invoke-DocExample $S README "Invoke-XenstoreTransaction { param(`$tx) `$tx.Write('/counter', [int](`$tx.TryRead('/counter')) + 1) }"
        (Invoke-AdminStep $S '(Get-XenstoreItem /counter).Value').Output[0] | Should -BeExactly '2'
    }

    It 'Watch-XenstorePath -UntilValue 4 returns when a backend, in another session, writes state 4' {
        $socket = (Invoke-AdminStep $S '(Get-XenstoreServer).SocketPath').Output[0]
        $Xs = New-AdminSession 'quickstart-backend'
        $null = Invoke-AdminStep $Xs "Connect-Xenstore -SocketPath '$socket'"
        $backend = [powershell]::Create()
        $backend.Runspace = $Xs
        $null = $backend.AddScript('Start-Sleep -Milliseconds 1500; Set-XenstoreItem /local/domain/1/state 4')
        $writing = $backend.BeginInvoke()
        try {
            $r = Invoke-DocExample $S README 'Watch-XenstorePath /local/domain/1/state -UntilValue 4 -Timeout 30   # waits for a backend to connect' -TimeoutSeconds 40
        }
        finally {
            $null = $writing.AsyncWaitHandle.WaitOne(10000)
            $backend.Dispose()
        }
        $r.Seconds | Should -BeLessThan 15
        (Invoke-AdminStep $S '(Get-XenstoreItem /local/domain/1/state).Value').Output[0] | Should -BeExactly '4'
    }
}

Describe 'Block help examples on a 1 GiB disk image' {
    BeforeAll {
        $S = New-AdminSession 'block'
        $Here = Join-Path $Work 'block'
        $Disk = Join-Path $Here 'disk.img'
        New-RealisticDisk $Disk
        $MbrHash = Get-RangeSha256 $Disk 0 512
        $Sector2048Hash = Get-RangeSha256 $Disk 1MB 512
    }

    AfterAll {
        Close-AdminSession $S
    }

    It 'New-BlockDevice example 1: a 64 MiB RAM disk named ram' {
        $r = Invoke-DocExample $S New-BlockDevice 'New-BlockDevice -Size 64MB -Name ram'
        $r.Output[0].Info.SizeBytes | Should -Be 64MB
        Show-Output $r 80 | Should -Match 'ram\s+memory\s+64\.0 MiB\s+512'
    }

    It 'New-BlockDevice example 2: a 10 GiB sparse image that uses no space' {
        $r = Invoke-DocExample $S New-BlockDevice "`$disk = New-BlockDevice -Path ./disk.img -Size 10GB -Name disk`n(Get-Item ./disk.img).Length" -Replace @{ './disk.img' = './ten.img' }
        $r.Output[0] | Should -Be 10737418240
        Get-AllocatedBytes (Join-Path $Here 'ten.img') | Should -BeLessThan 1MB
        $null = Invoke-AdminStep $S 'Close-BlockDevice disk; Remove-Item ./ten.img'
    }

    It 'New-BlockDevice example 3: 4096-byte sectors, piped to Get-BlockDeviceInfo' {
        $r = Invoke-DocExample $S New-BlockDevice 'New-BlockDevice 16MB -SectorSize 4096 -Name ram4k | Get-BlockDeviceInfo | Select-Object Device, SectorSize, SectorCount'
        $r.Output[0].Device | Should -Be 'ram4k'
        $r.Output[0].SectorSize | Should -Be 4096
        $r.Output[0].SectorCount | Should -Be 4096
    }

    It 'New-BlockDevice example 4: a 32 MiB image loaded into a RAM disk holds the same bytes' {
        [IO.File]::WriteAllBytes((Join-Path $Here 'boot.img'), (New-RandomBytes 32MB 4))
        $null = Invoke-DocExample $S New-BlockDevice "`$image = Get-Item ./boot.img`nNew-BlockDevice -Size `$image.Length -Name scratch | Out-Null`nWrite-BlockDevice -Device scratch -InFile `$image.FullName -Force" -TimeoutSeconds 60
        $null = Invoke-AdminStep $S 'Read-BlockDevice -Device scratch -OutFile ./scratch.bin' -TimeoutSeconds 60
        Test-SameFile (Join-Path $Here 'boot.img') (Join-Path $Here 'scratch.bin') | Should -BeTrue
        (Invoke-AdminStep $S '(Get-DeviceStats -Name scratch).WriteBytes').Output[0] | Should -Be 32MB
    }

    It 'Open-BlockDevice example 1: the image opened read-write, with its full path' {
        $r = Invoke-DocExample $S Open-BlockDevice 'Open-BlockDevice -Path ./disk.img -Name disk'
        $r.Output[0].Location | Should -Be $Disk
        $r.Output[0].Info.ReadOnly | Should -BeFalse
        Show-Output $r 80 | Should -Match '1,024\.0 MiB|1\.0 GiB'
    }

    It 'Read-BlockDevice example 1: the boot sector as a hex dump, ending in 55 aa' {
        $r = Invoke-DocExample $S Read-BlockDevice 'Read-BlockDevice -Path ./disk.img -Count 1'
        $r.Output[0].Data.Length | Should -Be 512
        $r.Output[0].Data[0] | Should -Be 0xEB
        Show-Output $r 80 | Should -Match '000001f0 .*55 aa'
    }

    It 'Read-BlockDevice example 2: decodes the signature and the first partition' {
        $r = Invoke-DocExample $S Read-BlockDevice "`$mbr = Read-BlockDevice -Path ./disk.img -Count 1`n'{0:X2}{1:X2}' -f `$mbr.Data[510], `$mbr.Data[511]`n[BitConverter]::ToUInt32(`$mbr.Data, 454)"
        $r.Output | Should -Be @('55AA', 2048)
    }

    It 'Read-BlockDevice example 3: the ext4 superblock of the partition' -Skip:(-not $HaveMkfs) {
        # The partition as its own image (what /dev/sdb1 would show), made by mkfs like the one inside disk.img.
        & mkfs.ext4 -q -F (Join-Path $Here 'part1.img') 256M 2>&1 | Out-Null
        $r = Invoke-DocExample $S Read-BlockDevice "Open-BlockDevice -Path /dev/sdb1 -ReadOnly -Name usb | Out-Null`n`$sb = Read-BlockDevice -Device usb -Offset 1024 -Length 1024`n[BitConverter]::ToUInt16(`$sb.Data, 56).ToString('x4')" -Replace @{ '/dev/sdb1' = './part1.img' }
        $r.Output | Should -Be @('ef53')
    }

    It 'Read-BlockDevice example 4: a 256 MiB backup with -NoClobber -PassThru, hashed like the partition' -Skip:(-not $HaveMkfs) {
        $r = Invoke-DocExample $S Read-BlockDevice "Read-BlockDevice -Device usb -OutFile ./usb-part1.img -NoClobber -PassThru`nGet-FileHash ./usb-part1.img" -TimeoutSeconds 60
        $r.Output[0].Bytes | Should -Be 256MB
        $partHash = Get-FileSha256 (Join-Path $Here 'part1.img')
        $r.Output[1].Hash | Should -Be $partHash
        $r.Progress.Count | Should -BeGreaterThan 0
        # Again: -NoClobber refuses, and the backup is intact.
        $r = Invoke-DocExample $S Read-BlockDevice 'Read-BlockDevice -Device usb -OutFile ./usb-part1.img -NoClobber -PassThru' -AllowErrors
        $r.Errors.Count + [int]($null -ne $r.Exception) | Should -Be 1
        Get-FileSha256 (Join-Path $Here 'usb-part1.img') | Should -Be $partHash
        $null = Invoke-AdminStep $S 'Close-BlockDevice usb'
    }

    It 'Read-BlockDevice -Path of the 1 GiB image with -OutFile shows progress and writes the image''s bytes' {
        $null = Invoke-AdminStep $S 'Close-BlockDevice disk'
        $r = Invoke-AdminStep $S 'Read-BlockDevice -Path ./disk.img -OutFile ./whole.bin -PassThru' -TimeoutSeconds 60
        $r.Output[0].Bytes | Should -Be 1GB
        (Get-Item (Join-Path $Here 'whole.bin')).Length | Should -Be 1GB
        Test-SameFile $Disk (Join-Path $Here 'whole.bin') | Should -BeTrue
        $r.Progress.Count | Should -BeGreaterThan 0
        $r.Progress[-1].RecordType | Should -Be 'Completed'
        Remove-Item (Join-Path $Here 'whole.bin')
    }

    It 'Read-BlockDevice example 5: copies the 256 MiB partition image through the pipeline, byte for byte' -Skip:(-not $HaveMkfs) {
        # The partition rather than the whole 1 GiB disk: 256 objects of 1 MiB keep the step to seconds.
        $r = Invoke-DocExample $S Read-BlockDevice "New-BlockDevice -Path ./copy.img -Size (Get-Item ./disk.img).Length -Name copy | Out-Null`nRead-BlockDevice -Path ./disk.img -SectorsPerObject 2048 | Write-BlockDevice -Device copy -Force`nClose-BlockDevice -Device copy" -Replace @{ './disk.img' = './part1.img' } -TimeoutSeconds 60
        Test-SameFile (Join-Path $Here 'part1.img') (Join-Path $Here 'copy.img') | Should -BeTrue
        Remove-Item (Join-Path $Here 'copy.img')
    }

    It 'Write-BlockDevice example 1: saves the boot sector and restores it after it was wiped' {
        $null = Invoke-DocExample $S Write-BlockDevice 'Read-BlockDevice -Path ./disk.img -Count 1 -OutFile ./mbr.bin'
        (Get-Item (Join-Path $Here 'mbr.bin')).Length | Should -Be 512
        $null = Invoke-AdminStep $S 'Write-BlockDevice -Path ./disk.img -Data ([byte[]]::new(512)) -Force'
        Get-RangeSha256 $Disk 0 512 | Should -Not -Be (Get-FileSha256 (Join-Path $Here 'mbr.bin'))
        $null = Invoke-DocExample $S Write-BlockDevice 'Write-BlockDevice -Path ./disk.img -InFile ./mbr.bin -Force'
        Get-RangeSha256 $Disk 0 512 | Should -Be $MbrHash
    }

    It 'Write-BlockDevice example 2: -WhatIf changes nothing' {
        $null = Invoke-DocExample $S Write-BlockDevice "`$sector = [byte[]]::new(512)`nWrite-BlockDevice -Path ./disk.img -Data `$sector -Sector 2048 -WhatIf"
        Get-RangeSha256 $Disk 1MB 512 | Should -Be $Sector2048Hash
    }

    It 'Write-BlockDevice example 4: the first MiB of a RAM disk copied to its second' {
        $null = Invoke-AdminStep $S '$fill = [byte[]]::new(1MB); [Random]::new(9).NextBytes($fill); Write-BlockDevice -Device ram -Data $fill -Force'
        $r = Invoke-DocExample $S Write-BlockDevice "Read-BlockDevice -Device ram -Sector 0 -Count 2048 -SectorsPerObject 256 |`n    ForEach-Object { Write-BlockDevice -Device ram -Sector (`$_.Sector + 2048) -Data `$_.Data -Force -PassThru }"
        $r.Output.Count | Should -Be 8
        ($r.Output | Measure-Object Bytes -Sum).Sum | Should -Be 1MB
        $first = (Invoke-AdminStep $S '[Convert]::ToHexString([Security.Cryptography.SHA256]::HashData((Read-BlockDevice -Device ram -Offset 0 -Length 1MB).Data))').Output[0]
        $second = (Invoke-AdminStep $S '[Convert]::ToHexString([Security.Cryptography.SHA256]::HashData((Read-BlockDevice -Device ram -Offset 1MB -Length 1MB).Data))').Output[0]
        $second | Should -Be $first
        $first | Should -Not -Be (Get-BytesHash ([byte[]]::new(1MB)))
    }

    It 'Write-BlockDevice example 5: a new RAM disk counts the 1 MiB written' {
        $null = Invoke-AdminStep $S 'Close-BlockDevice ram'
        $r = Invoke-DocExample $S Write-BlockDevice "New-BlockDevice -Size 64MB -Name ram | Out-Null`nWrite-BlockDevice -Device ram -Data ([byte[]]::new(1MB)) -Force`n(Get-DeviceStats -Name ram).WriteBytes"
        $r.Output | Should -Be @(1048576)
    }

    It 'Get-BlockDeviceAllocation example 1: a written MiB is data, the rest holes' {
        $r = Invoke-DocExample $S Get-BlockDeviceAllocation "New-BlockDevice -Size 4MB -Name ram | Out-Null`nWrite-BlockDevice -Device ram -Data ([byte[]]::new(1MB)) -Force`nGet-BlockDeviceAllocation -Device ram" -Replace @{ '-Name ram' = '-Name ram2'; '-Device ram' = '-Device ram2' }
        $r.Output.Count | Should -Be 2
        $r.Output[0].Length, $r.Output[0].Description | Should -Be @(1048576, 'data')
        $r.Output[1].Offset, $r.Output[1].Length | Should -Be @(1048576, 3145728)
        $r.Output[1].Description | Should -Match 'hole'
    }

    It 'Get-BlockDeviceAllocation example 3: measures the data of the sparse 1 GiB image' {
        $r = Invoke-DocExample $S Get-BlockDeviceAllocation "`$map = Get-BlockDeviceAllocation -Path ./vm.img`n(`$map | Where-Object Description -eq 'data' | Measure-Object Length -Sum).Sum / 1MB" -Replace @{ './vm.img' = './disk.img' }
        # At least the 4 MiB of random data, at most what the file system holds for the image (its blocks include
        # extents allocated but never written, which read as holes).
        $r.Output[0] | Should -BeGreaterOrEqual 4
        $r.Output[0] | Should -BeLessOrEqual ((Get-AllocatedBytes $Disk) / 1MB)
        if ($QemuImg) {
            # The same figure from the C side: qemu-img map asks the same SEEK_DATA/SEEK_HOLE questions.
            $map = (& $QemuImg.Source map -f raw --output=json $Disk) -join "`n" | ConvertFrom-Json
            $r.Output[0] | Should -Be ((($map | Where-Object data | Measure-Object length -Sum).Sum) / 1MB)
        }
    }

    It 'Get-BlockDeviceAllocation example 4: copies only the data runs of a 1 GiB image into a new sparse one' {
        $null = Invoke-AdminStep $S 'Open-BlockDevice -Path ./disk.img -ReadOnly -Name src | Out-Null; New-BlockDevice -Path ./dst.img -Size 1GB -Name dst | Out-Null'
        $null = Invoke-DocExample $S Get-BlockDeviceAllocation "Get-BlockDeviceAllocation -Device src | Where-Object Description -eq 'data' | ForEach-Object {`n    Read-BlockDevice -Device src -Sector `$_.Sector -Count `$_.Count -SectorsPerObject 2048 |`n        Write-BlockDevice -Device dst -Force`n}" -TimeoutSeconds 60
        $null = Invoke-AdminStep $S 'Close-BlockDevice src, dst'
        Test-SameFile $Disk (Join-Path $Here 'dst.img') | Should -BeTrue
        Get-AllocatedBytes (Join-Path $Here 'dst.img') | Should -BeLessThan 64MB
    }

    It 'Get-BlockDeviceInfo examples 1 and 2: the image described by path, and a folder of images' {
        $r = Invoke-DocExample $S Get-BlockDeviceInfo 'Get-BlockDeviceInfo -Path ./disk.img'
        $r.Output[0].SectorCount | Should -Be 2097152
        $r.Output[0].Location | Should -Be $Disk
        $null = New-Item -ItemType Directory (Join-Path $Here 'images')
        foreach ($n in 1..3) { & truncate -s "$($n * 256)M" (Join-Path $Here "images/v$n.img") }
        $r = Invoke-DocExample $S Get-BlockDeviceInfo 'Get-ChildItem /srv/images -Filter *.img | Get-BlockDeviceInfo | Format-Table Location, SizeBytes, SectorCount' -Replace @{ '/srv/images' = './images' }
        $text = Show-Output $r
        foreach ($n in 1..3) { $text | Should -Match ("v$n\.img\s+$($n * 256MB)\s+$($n * 524288)") }
    }

    It 'Get-BlockDeviceInfo example 3: what a 4096-byte RAM disk supports' {
        $null = Invoke-AdminStep $S 'Close-BlockDevice ram; New-BlockDevice -Size 16MB -SectorSize 4096 -Name ram | Out-Null'
        $r = Invoke-DocExample $S Get-BlockDeviceInfo 'Get-BlockDeviceInfo -Device ram | Select-Object Device, SectorSize, CanTrim, CanFua, CanWriteZeroes'
        $r.Output[0].SectorSize | Should -Be 4096
        $r.Output[0].CanTrim, $r.Output[0].CanFua, $r.Output[0].CanWriteZeroes | Should -Be @($true, $true, $true)
    }

    It 'Open-BlockDevice example 3: every image of a folder, then their statistics' {
        $null = Invoke-AdminStep $S 'Get-BlockDevice | Close-BlockDevice'
        $r = Invoke-DocExample $S Open-BlockDevice "Get-ChildItem ./images -Filter *.img | Open-BlockDevice -ReadOnly`nGet-BlockDevice | Get-DeviceStats"
        @($r.Output | Where-Object { $_ -is [VirtualDevices.Devices.BlockStatistics] }).Count | Should -Be 3
        (Invoke-AdminStep $S '(Get-BlockDevice).Info.ReadOnly').Output | Should -Be @($true, $true, $true)
    }

    It 'Open-BlockDevice example 4: 4096-byte sectors with direct I/O' {
        & truncate -s 256M (Join-Path $Here 'data4k.img')
        $r = Invoke-DocExample $S Open-BlockDevice 'Open-BlockDevice -Path /srv/images/data4k.img -SectorSize 4096 -Direct -Name data4k' -Replace @{ '/srv/images/' = './' }
        $r.Output[0].Info.SectorCount | Should -Be 65536
        $null = Invoke-AdminStep $S '$page = [byte[]]::new(4096); $page[0] = 42; Write-BlockDevice -Device data4k -Sector 10 -Data $page -Force'
        (Invoke-AdminStep $S '(Read-BlockDevice -Device data4k -Sector 10 -Count 1).Data[0]').Output[0] | Should -Be 42
        Get-RangeSha256 (Join-Path $Here 'data4k.img') 40960 1 | Should -Be (Get-BytesHash ([byte[]]@(42)))
    }

    It 'Get-BlockDevice example 2: a missing name is an error, the matching ones are still returned' {
        $null = Invoke-AdminStep $S 'New-BlockDevice -Size 1MB -Name ram1 | Out-Null; New-BlockDevice -Size 1MB -Name ram2 | Out-Null'
        $r = Invoke-DocExample $S Get-BlockDevice 'Get-BlockDevice -Name disk, ram*' -AllowErrors
        $r.Exception | Should -BeNullOrEmpty
        $r.Errors.FullyQualifiedErrorId | Should -Match '^DeviceNotFound,'
        $r.Output.Name | Should -Be @('ram1', 'ram2')
    }

    It 'Get-BlockDevice example 3 and Get-DeviceStats example 3: filtered and sorted statistics' {
        $null = Invoke-AdminStep $S 'Read-BlockDevice -Device ram2 -Count 2048 -SectorsPerObject 2048 | Out-Null'
        $r = Invoke-DocExample $S Get-BlockDevice "Get-BlockDevice | Where-Object Driver -eq 'memory' | Get-DeviceStats"
        $r.Output.Device | Should -Be @('ram1', 'ram2')
        $r = Invoke-DocExample $S Get-DeviceStats 'Get-BlockDevice | Get-DeviceStats | Sort-Object ReadBytes -Descending | Select-Object -First 3 Device, ReadBytes, WriteBytes, Errors'
        $r.Output[0].Device | Should -Be 'ram2'
        $r.Output[0].ReadBytes | Should -Be 1MB
    }

    It 'Close-BlockDevice examples 3 and 4: -WhatIf closes nothing; a closed device says so' {
        $null = Invoke-AdminStep $S 'New-BlockDevice -Size 1MB -Name tmp0 | Out-Null; New-BlockDevice -Path ./tmp1.img -Size 64MB -Name tmp1 | Out-Null'
        $null = Invoke-DocExample $S Close-BlockDevice 'Get-BlockDevice -Name tmp* | Close-BlockDevice -WhatIf'
        (Invoke-AdminStep $S '(Get-BlockDevice -Name tmp*).Name').Output | Should -Be @('tmp0', 'tmp1')
        $r = Invoke-DocExample $S Close-BlockDevice "`$ram = New-BlockDevice -Size 16MB -Name scratch`nClose-BlockDevice `$ram`nRead-BlockDevice -Device `$ram -Count 1" -AllowErrors -Replace @{ '-Name scratch' = '-Name scratch2' }
        $r.Errors.FullyQualifiedErrorId | Should -Match '^DeviceDisconnected,'
        "$($r.Errors[0])" | Should -Match "'scratch2' is disconnected"
    }

    It 'Reset-DeviceStats example 2: the copy of a 1 GiB image is counted in bytes and requests' {
        $null = Invoke-AdminStep $S 'Open-BlockDevice -Path ./disk.img -ReadOnly -Name disk | Out-Null'
        $r = Invoke-DocExample $S Reset-DeviceStats "Reset-DeviceStats -Name disk`nRead-BlockDevice -Device disk -OutFile ./disk.bak`nGet-DeviceStats -Name disk | Select-Object ReadBytes, ReadOps, Elapsed" -TimeoutSeconds 60
        $r.Output[-1].ReadBytes | Should -Be 1GB
        $r.Output[-1].ReadOps | Should -BeGreaterThan 0
        # The copy's bytes were compared whole above (whole.bin); here its size and the regions that hold data.
        (Get-Item (Join-Path $Here 'disk.bak')).Length | Should -Be 1GB
        Get-RangeSha256 (Join-Path $Here 'disk.bak') 0 2MB | Should -Be (Get-RangeSha256 $Disk 0 2MB)
        Get-RangeSha256 (Join-Path $Here 'disk.bak') 512MB 4MB | Should -Be (Get-RangeSha256 $Disk 512MB 4MB)
        Remove-Item (Join-Path $Here 'disk.bak')
    }

    It 'Reset-DeviceStats example 3: the counters before the reset go to a CSV file, then read zero' {
        $null = Invoke-AdminStep $S 'Write-BlockDevice -Device ram1 -Data ([byte[]]::new(4096)) -Force'
        $null = Invoke-DocExample $S Reset-DeviceStats 'Get-BlockDevice -Name ram* | Reset-DeviceStats -PassThru | Export-Csv ./ram-stats.csv -Append'
        $csv = Import-Csv (Join-Path $Here 'ram-stats.csv')
        ($csv | Where-Object Device -eq 'ram1').WriteBytes | Should -Be '4096'
        ($csv | Where-Object Device -eq 'ram2').ReadBytes | Should -Be ([string]1MB)
        (Invoke-AdminStep $S '(Get-DeviceStats -Name ram1, ram2 | Measure-Object ReadBytes, WriteBytes -Sum).Sum').Output | Should -Be @(0, 0)
    }

    It 'Get-DeviceStats example 4: logging to CSV runs until Ctrl+C, then stops at once' {
        # Every second rather than every 10, to keep the test short.
        $started = [DateTime]::UtcNow
        Assert-OnPage Get-DeviceStats "Get-DeviceStats -Kind Block -Interval 10 |`n    Select-Object Timestamp, Device, ReadBytesPerSecond, WriteBytesPerSecond, Errors |`n    Export-Csv ./io.csv"
        $stop = Stop-AdminCommand $S "Get-DeviceStats -Kind Block -Interval 10 |`n    Select-Object Timestamp, Device, ReadBytesPerSecond, WriteBytesPerSecond, Errors |`n    Export-Csv ./io.csv".Replace('-Interval 10', '-Interval 1') -Until { (Test-Path (Join-Path $Here 'io.csv')) -and ([DateTime]::UtcNow - $started).TotalSeconds -gt 2 }
        $stop.RunningWhenStopped | Should -BeTrue
        $stop.Stopped | Should -BeTrue
        $stop.StopSeconds | Should -BeLessThan 3
        (Import-Csv (Join-Path $Here 'io.csv')).Device | Should -Contain 'ram1'
    }

    It 'about_VirtualDevices: an image copied into a RAM disk, counted, and an error caught by its id' {
        $null = Invoke-AdminStep $S 'Get-BlockDevice | Close-BlockDevice'
        $r = Invoke-DocExample $S about_VirtualDevices "`$size = (Get-Item ./disk.img).Length`nNew-BlockDevice -Size `$size -Name ram | Out-Null`nRead-BlockDevice -Path ./disk.img -SectorsPerObject 2048 | Write-BlockDevice -Device ram -Force`nGet-DeviceStats -Name ram" -Replace @{ './disk.img' = './boot.img' } -TimeoutSeconds 60
        $r.Output[-1].WriteBytes | Should -Be 32MB
        $null = Invoke-AdminStep $S 'Read-BlockDevice -Device ram -OutFile ./ram.bin' -TimeoutSeconds 60
        Test-SameFile (Join-Path $Here 'boot.img') (Join-Path $Here 'ram.bin') | Should -BeTrue
        $r = Invoke-DocExample $S about_VirtualDevices "try {`n    Read-BlockDevice -Device ram -Sector 1000000000 -Count 1 -ErrorAction Stop`n}`ncatch {`n    if (`$_.FullyQualifiedErrorId -like 'BlockOutOfRange,*') { 'past the end of the device' } else { throw }`n}"
        $r.Output | Should -Be @('past the end of the device')
    }
}

Describe 'NBD help examples: our server, nbdkit and qemu-nbd, 256 MiB and 1 GiB exports' {
    BeforeAll {
        $S = New-AdminSession 'nbd'
        $Here = Join-Path $Work 'nbd'

        $Kit = $null
        $KitSock = Join-Path $Here 'kit.sock'
        if ($HaveNbdkit) {
            $Kit = Start-Peer nbdkit @('-f', '--exit-with-parent', '-U', $KitSock, 'memory', '256M') $KitSock -TimeoutSeconds 20 -WorkingDirectory $Work
            $Peers.Add($Kit)
        }

        $Qemu = $null
        $QemuSock = Join-Path $Here 'qemu.sock'
        $VmRaw = Join-Path $Here 'vm.raw'
        if ($HaveQemuNbd) {
            New-RealisticDisk $VmRaw
            & qemu-img convert -f raw -O qcow2 $VmRaw (Join-Path $Here 'vm.qcow2')
            $Qemu = Start-Peer qemu-nbd @('--read-only', '--shared', '4', '--persistent', '--export-name', 'disk0', '--format', 'qcow2',
                '-k', $QemuSock, (Join-Path $Here 'vm.qcow2')) $QemuSock -TimeoutSeconds 20 -WorkingDirectory $Work
            $Peers.Add($Qemu)
        }
    }

    AfterAll {
        Close-AdminSession $S
        Stop-Peer $Kit
        Stop-Peer $Qemu
    }

    It 'Start-NbdServer example 1: a 1 GiB image served on a free port, converted by qemu-img to an identical qcow2' -Skip:(-not $HaveQemuNbd) {
        New-RealisticDisk (Join-Path $Here 'disk.img')
        $r = Invoke-DocExample $S Start-NbdServer 'Start-NbdServer -Path ./disk.img -Port 0'
        $r.Output[0].Name | Should -Be 'nbd-server0'
        $port = $r.Output[0].TcpEndPoint.Port
        $port | Should -BeGreaterThan 0
        Show-Output $r | Should -Match "127\.0\.0\.1:$port"
        $r = Invoke-DocExample $S Start-NbdServer 'qemu-img info nbd://127.0.0.1:43517' -Replace @{ '43517' = $port }
        ($r.Output -join "`n") | Should -Match 'virtual size: 1 GiB \(1073741824 bytes\)'
        $null = Invoke-DocExample $S Start-NbdServer 'qemu-img convert -p -O qcow2 nbd://127.0.0.1:43517/disk.img ./disk.qcow2' -Replace @{ '43517' = $port; ' -p ' = ' ' } -TimeoutSeconds 60
        $LASTEXITCODE = 0
        $null = & qemu-img compare -q -f raw -F qcow2 (Join-Path $Here 'disk.img') (Join-Path $Here 'disk.qcow2')
        $LASTEXITCODE | Should -Be 0
        $null = Invoke-DocExample $S Start-NbdServer 'Stop-NbdServer nbd-server0'
        (Invoke-AdminStep $S '@(Get-NbdServer).Count; @(Get-BlockDevice).Count').Output | Should -Be @(0, 0)
    }

    It 'about_VirtualDevices_Nbd: nbdinfo --map of a served 64 MiB RAM disk shows the written MiB' -Skip:(-not $HaveNbdinfo) {
        $r = Invoke-DocExample $S about_VirtualDevices_Nbd "New-BlockDevice -Size 64MB -Name ram | Out-Null`nWrite-BlockDevice -Device ram -Data ([byte[]]::new(1MB)) -Force`nStart-NbdServer -Device ram -SocketPath /tmp/ram.sock | Out-Null`nnbdinfo --map 'nbd+unix:///?socket=/tmp/ram.sock'" -Replace @{ '/tmp/ram.sock' = './ram.sock' }
        $map = $r.Output -join "`n"
        $map | Should -Match '(?m)^\s*0\s+1048576\s+0\s+data\s*$'
        $map | Should -Match '(?m)^\s*1048576\s+66060288\s+3\s+hole,zero\s*$'
        $null = Invoke-AdminStep $S 'Get-NbdServer | Stop-NbdServer; Close-BlockDevice ram'
    }

    It 'Start-NbdServer example 2: nbdcopy writes a 256 MiB image into a served RAM disk; counted, mapped, read back' -Skip:(-not $HaveNbdinfo) {
        $rootfs = Join-Path $Here 'rootfs.img'
        & truncate -s 256M $rootfs
        Write-FileBytes $rootfs 0 (New-RandomBytes 8MB 21)
        Write-FileBytes $rootfs 128MB (New-RandomBytes 8MB 22)
        $r = Invoke-DocExample $S Start-NbdServer "New-BlockDevice -Size 1GB -Name scratch | Start-NbdServer -SocketPath /tmp/scratch.sock | Out-Null`nnbdcopy ./rootfs.img 'nbd+unix:///scratch?socket=/tmp/scratch.sock'`nGet-DeviceStats -Name scratch`nGet-BlockDeviceAllocation -Device scratch" -Replace @{ '1GB' = '256MB'; '/tmp/scratch.sock' = './scratch.sock' } -TimeoutSeconds 60
        $stats = $r.Output | Where-Object { $_ -is [VirtualDevices.Devices.BlockStatistics] }
        $stats.WriteBytes | Should -BeGreaterOrEqual 16MB
        $data = $r.Output | Where-Object { $_.PSObject.Properties['Description'] -and $_.Description -eq 'data' }
        $data.Offset | Should -Contain 0
        $data.Offset | Should -Contain 128MB
        ($data | Measure-Object Length -Sum).Sum | Should -BeLessThan 64MB
        & nbdcopy "nbd+unix:///scratch?socket=$(Join-Path $Here 'scratch.sock')" (Join-Path $Here 'back.img')
        Test-SameFile $rootfs (Join-Path $Here 'back.img') | Should -BeTrue
        $null = Invoke-AdminStep $S 'Get-NbdServer | Stop-NbdServer; Close-BlockDevice scratch'
    }

    It 'Get-NbdExport example 1 and Get-NbdServer examples 2 and 3: exports, the chosen port, the counters' {
        $null = Invoke-AdminStep $S 'New-BlockDevice -Size 256MB -Name src | Out-Null; Start-NbdServer -Device src -SocketPath ./nbd.sock -Name local | Out-Null'
        $r = Invoke-DocExample $S Get-NbdExport "Get-NbdExport -Uri 'nbd+unix:///?socket=/tmp/nbd.sock' | Select-Object Name, Size, ReadOnly, Description" -Replace @{ '/tmp/nbd.sock' = './nbd.sock' }
        $r.Output.Name | Should -Be @('', 'src')
        $r.Output.Size | Should -Be @(256MB, 256MB)
        $r = Invoke-DocExample $S Get-NbdServer "Start-NbdServer -Device src -Port 0 -Name test | Out-Null`n(Get-NbdServer test).TcpEndPoint.Port"
        $port = $r.Output[0]
        $port | Should -BeGreaterThan 0
        $null = Invoke-AdminStep $S "Read-BlockDevice -Uri 'nbd://127.0.0.1:$port/src' -Count 2048 -SectorsPerObject 2048 | Out-Null"
        $r = Invoke-DocExample $S Get-NbdServer "Get-NbdServer nbd-* | ForEach-Object { `$_.GetStatistics() | Add-Member Name `$_.Name -PassThru } |`n    Format-Table Name, ActiveConnections, Requests, BytesRead, BytesWritten, ErrorReplies" -Replace @{ 'nbd-*' = 'test' }
        Show-Output $r | Should -Match 'test\s+0\s+\d+\s+1048576\s+0\s+0'
        $null = Invoke-AdminStep $S 'Get-NbdServer | Stop-NbdServer; Close-BlockDevice src'
    }

    It 'Start-NbdServer example 3: two images served read-only, listed by nbdinfo --list' -Skip:(-not $HaveNbdinfo) {
        & truncate -s 256M (Join-Path $Here 'a.img')
        & truncate -s 512M (Join-Path $Here 'b.img')
        $port = Get-FreePort
        $r = Invoke-DocExample $S Start-NbdServer "Open-BlockDevice -Path ./a.img -ReadOnly -Name a | Out-Null`nOpen-BlockDevice -Path ./b.img -ReadOnly -Name b | Out-Null`n`$server = Start-NbdServer -Device a, b -ReadOnly -Name images -Port 10810`nnbdinfo --list nbd://127.0.0.1:10810`n`$server.Exports | Select-Object Name, ReadOnly" -Replace @{ '10810' = $port }
        $text = $r.Output -join "`n"
        $text | Should -Match 'export="a"'
        $text | Should -Match 'export="b"'
        $text | Should -Match '536870912'
        $exports = $r.Output | Where-Object { $_ -isnot [string] }
        $exports.Name | Should -Be @('a', 'b')
        $exports.ReadOnly | Should -Be @($true, $true)
        $null = Invoke-AdminStep $S 'Get-NbdServer | Stop-NbdServer; Close-BlockDevice a, b'
    }

    It 'Stop-NbdServer example 3: an image served for one nbdinfo --map, then removed with its socket' -Skip:(-not $HaveNbdinfo) {
        & truncate -s 256M (Join-Path $Here 'scratch.img')
        Write-FileBytes (Join-Path $Here 'scratch.img') 64MB (New-RandomBytes 1MB 3)
        $r = Invoke-DocExample $S Stop-NbdServer "`$server = Start-NbdServer -Path ./scratch.img -SocketPath ./scratch.sock`nnbdinfo --map 'nbd+unix:///?socket=./scratch.sock'`n`$server | Stop-NbdServer`nRemove-Item ./scratch.img"
        ($r.Output -join "`n") | Should -Match '(?m)^\s*67108864\s+1048576\s+0\s+data\s*$'
        Test-Path (Join-Path $Here 'scratch.img') | Should -BeFalse
        Test-Path (Join-Path $Here 'scratch.sock') | Should -BeFalse
    }

    It 'Connect-NbdDevice example 1 against nbdkit memory 256M: written at sector 2048, read back' -Skip:(-not $HaveNbdkit) {
        $r = Invoke-DocExample $S Connect-NbdDevice "Connect-NbdDevice -Uri 'nbd+unix:///?socket=/tmp/nbdkit.sock' -Name ram" -Replace @{ '/tmp/nbdkit.sock' = $KitSock }
        $r.Output[0].Info.SizeBytes | Should -Be 256MB
        $r.Output[0].Info.SectorSize | Should -Be 512
        Show-Output $r 80 | Should -Match 'ram\s+nbd\s+256\.0 MiB'
        $null = Invoke-AdminStep $S '$fill = [byte[]]::new(1MB); [Random]::new(5).NextBytes($fill); Write-BlockDevice -Device ram -Sector 2048 -Data $fill -Force'
        $r = Invoke-AdminStep $S '[Convert]::ToHexString([Security.Cryptography.SHA256]::HashData((Read-BlockDevice -Device ram -Sector 2048 -Count 2048 -SectorsPerObject 2048).Data))'
        $r.Output[0] | Should -Be (Get-BytesHash (New-RandomBytes 1MB 5))
        (Invoke-AdminStep $S '(Get-DeviceStats -Name ram).WriteBytes, (Get-DeviceStats -Name ram).ReadBytes').Output | Should -Be @(1MB, 1MB)
    }

    It 'Get-BlockDeviceAllocation example 2: the map of nbdkit''s export is the one nbdinfo --map prints' -Skip:(-not ($HaveNbdkit -and $HaveNbdinfo)) {
        $r = Invoke-DocExample $S Get-BlockDeviceAllocation "Get-BlockDeviceAllocation -Uri 'nbd+unix:///?socket=/tmp/nbdkit.sock' | Format-Table Offset, Length, Description" -Replace @{ '/tmp/nbdkit.sock' = $KitSock }
        $ours = (Show-Output $r) -split "`n" | Where-Object { $_ -match '^\s*\d' } | ForEach-Object { ($_.Trim() -split '\s+') -join ' ' }
        $theirs = & nbdinfo --map "nbd+unix:///?socket=$KitSock" | ForEach-Object { $f = $_.Trim() -split '\s+'; "$($f[0]) $($f[1]) $($f[3])" }
        $ours | Should -Be $theirs
        $ours | Should -Contain '1048576 1048576 data'
    }

    It 'Read-BlockDevice and Write-BlockDevice example 6 on nbdkit: a boot sector written by -InFile, read by -Uri' -Skip:(-not $HaveNbdkit) {
        $mbr = New-RandomBytes 512 6
        $mbr[510] = 0x55; $mbr[511] = 0xAA
        [IO.File]::WriteAllBytes((Join-Path $Here 'mbr.bin'), $mbr)
        $r = Invoke-DocExample $S Write-BlockDevice "Write-BlockDevice -Uri 'nbd+unix:///?socket=/tmp/nbdkit.sock' -InFile ./mbr.bin -Force -PassThru" -Replace @{ '/tmp/nbdkit.sock' = $KitSock }
        $r.Output[0].Bytes | Should -Be 512
        $r = Invoke-DocExample $S Read-BlockDevice "Read-BlockDevice -Uri 'nbd+unix:///?socket=/tmp/nbdkit.sock' -Count 1" -Replace @{ '/tmp/nbdkit.sock' = $KitSock }
        Get-BytesHash $r.Output[0].Data | Should -Be (Get-BytesHash $mbr)
        (Invoke-AdminStep $S '@(Get-BlockDevice | Where-Object Driver -eq nbd).Count').Output[0] | Should -Be 1  # only ram: -Uri leaves nothing
    }

    It 'about_VirtualDevices_Nbd: the 256 MiB nbdkit export copied to a file with 4 connections equals nbdcopy''s copy' -Skip:(-not ($HaveNbdkit -and $HaveNbdinfo)) {
        $null = Invoke-AdminStep $S 'Disconnect-NbdDevice ram'
        $r = Invoke-DocExample $S about_VirtualDevices_Nbd "Get-NbdExport -SocketPath /tmp/kit.sock`n`$nbd = Connect-NbdDevice -Uri 'nbd+unix:///?socket=/tmp/kit.sock' -Connections 4`nRead-BlockDevice -Device `$nbd -OutFile ./kit.img -PassThru`nDisconnect-NbdDevice `$nbd" -Replace @{ '/tmp/kit.sock' = $KitSock } -TimeoutSeconds 60
        ($r.Output | Where-Object { $_ -is [VirtualDevices.Nbd.Client.NbdExportInfo] -and $_.Name -eq '' }).Size | Should -Be 256MB
        ($r.Output | Where-Object { $_ -is [VirtualDevices.Block.BlockTransferResult] }).Bytes | Should -Be 256MB
        $r.Progress.Count | Should -BeGreaterThan 0
        & nbdcopy "nbd+unix:///?socket=$KitSock" (Join-Path $Here 'kit-nbdcopy.img')
        Test-SameFile (Join-Path $Here 'kit-nbdcopy.img') (Join-Path $Here 'kit.img') | Should -BeTrue
        (Invoke-AdminStep $S '@(Get-BlockDevice | Where-Object Driver -eq nbd).Count').Output[0] | Should -Be 0
    }

    It 'Connect-NbdDevice example 4 and about_VirtualDevices_Nbd: failures caught by their ids' {
        # Our server rather than nbdkit, which serves its one export under any name.
        $null = Invoke-AdminStep $S 'New-BlockDevice -Size 256MB -Name data | Out-Null; Start-NbdServer -Device data -SocketPath ./strict.sock -Name strict | Out-Null'
        $r = Invoke-DocExample $S Connect-NbdDevice "try {`n    Connect-NbdDevice -SocketPath /tmp/nbdkit.sock -ExportName backup -ErrorAction Stop`n} catch {`n    `$_.FullyQualifiedErrorId`n}" -Replace @{ '/tmp/nbdkit.sock' = './strict.sock' }
        $r.Output | Should -Be @('DeviceNotFound,VirtualDevices.PowerShell.Commands.Nbd.ConnectNbdDeviceCommand')
        $null = Invoke-AdminStep $S 'Stop-NbdServer strict; Close-BlockDevice data'
        $r = Invoke-DocExample $S about_VirtualDevices_Nbd "try {`n    Connect-NbdDevice -Server 127.0.0.1 -Port 10999 -ConnectTimeout 5 -ErrorAction Stop`n} catch {`n    `$_.Exception.ErrorId`n}" -Replace @{ '10999' = (Get-FreePort) }
        $r.Output | Should -Be @('ConnectionRefused')
    }

    It 'Write-BlockDevice and Read-BlockDevice example 6 over TCP: a 256 MiB image onto export disk0 and back' {
        $image = Join-Path $Here 'disk256.img'
        & truncate -s 256M $image
        Write-FileBytes $image 0 (New-RandomBytes 2MB 31)
        Write-FileBytes $image 200MB (New-RandomBytes 2MB 32)
        $port = Get-FreePort
        $null = Invoke-AdminStep $S "New-BlockDevice -Size 256MB -Name disk0 | Out-Null; Start-NbdServer -Device disk0 -Port $port -Name tcp | Out-Null"
        $null = Invoke-DocExample $S Write-BlockDevice "Read-BlockDevice -Path ./disk.img -SectorsPerObject 2048 | Write-BlockDevice -Uri 'nbd://127.0.0.1:10809/disk0' -Force" -Replace @{ './disk.img' = './disk256.img'; '10809' = $port } -TimeoutSeconds 60
        $r = Invoke-DocExample $S Read-BlockDevice "Read-BlockDevice -Uri 'nbd://127.0.0.1:10809/disk0' -OutFile ./disk0.img -PassThru" -Replace @{ '10809' = $port } -TimeoutSeconds 60
        $r.Output[0].Bytes | Should -Be 256MB
        Test-SameFile $image (Join-Path $Here 'disk0.img') | Should -BeTrue
        (Invoke-AdminStep $S '(Get-DeviceStats -Name disk0).WriteBytes').Output[0] | Should -Be 256MB
        $null = Invoke-AdminStep $S 'Get-NbdServer | Stop-NbdServer; Close-BlockDevice disk0'
    }

    It 'Connect-NbdDevice example 2 against qemu-nbd: the qcow2 image''s boot sector, 4 connections, read-only' -Skip:(-not $HaveQemuNbd) {
        $r = Invoke-DocExample $S Connect-NbdDevice "`$nbd = Connect-NbdDevice -Server localhost -ExportName disk0 -Connections 4`n`$nbd.ConnectionCount, `$nbd.Info.ReadOnly`nRead-BlockDevice -Device `$nbd -Count 1" -Replace @{ '-Server localhost' = "-SocketPath '$QemuSock'" }
        $r.Output[0], $r.Output[1] | Should -Be @(4, $true)
        $r.Output[2].Data.Length | Should -Be 512
        Get-BytesHash $r.Output[2].Data | Should -Be (Get-RangeSha256 $VmRaw 0 512)
        $r = Invoke-Admin $S 'Write-BlockDevice -Device $nbd -Data ([byte[]]::new(512)) -Force'
        $ids = @($r.Errors.FullyQualifiedErrorId) + @(if ($r.Exception -is [System.Management.Automation.IContainsErrorRecord]) { $r.Exception.ErrorRecord.FullyQualifiedErrorId })
        $ids | Should -Match '^BlockReadOnly,'
    }

    It 'the 1 GiB qcow2 export copied to a file is the raw image, byte for byte' -Skip:(-not $HaveQemuNbd) {
        $r = Invoke-AdminStep $S 'Read-BlockDevice -Device $nbd -OutFile ./vm-copy.raw -PassThru' -TimeoutSeconds 60
        $r.Output[0].Bytes | Should -Be 1GB
        # Byte equality of a whole 1 GiB copy is checked for -Path above; here the size and every region with data
        # (the MBR, the ext4 partition's start, the random 4 MiB at 512 MiB), which a misplaced transfer would miss.
        $copy = Join-Path $Here 'vm-copy.raw'
        (Get-Item $copy).Length | Should -Be 1GB
        foreach ($range in @(0, 2MB), @(512MB, 4MB), @(257MB, 1MB)) {
            Get-RangeSha256 $copy $range[0] $range[1] | Should -Be (Get-RangeSha256 $VmRaw $range[0] $range[1])
        }
    }

    It 'Disconnect-NbdDevice example 2: every NBD device disconnected, the RAM disks kept' {
        $null = Invoke-AdminStep $S 'New-BlockDevice -Size 16MB -Name keep | Out-Null'
        if ($HaveNbdkit) { $null = Invoke-AdminStep $S "Connect-NbdDevice -SocketPath '$KitSock' -Name kit1 | Out-Null" }
        $others = (Invoke-AdminStep $S '(Get-BlockDevice | Where-Object Driver -ne nbd).Name').Output
        $others | Should -Contain 'keep'
        $null = Invoke-DocExample $S Disconnect-NbdDevice "Get-BlockDevice | Where-Object Driver -eq 'nbd' | Disconnect-NbdDevice"
        (Invoke-AdminStep $S '(Get-BlockDevice).Name').Output | Should -Be $others
    }
}

Describe 'Ctrl+C: long reads of 1 GiB devices stop promptly and leave no output they did not create' {
    BeforeAll {
        $S = New-AdminSession 'ctrlc'
        $Here = Join-Path $Work 'ctrlc'
        & truncate -s 1G (Join-Path $Here 'big.img')
        # A 1 GiB export read at 512 Mbit/s (about 64 MB/s): a whole read takes some 17 s, as from a slow network disk.
        $Slow = $null
        $SlowSock = Join-Path $Here 'slow.sock'
        if ($HaveNbdkit) {
            $Slow = Start-Peer nbdkit @('-f', '--exit-with-parent', '-U', $SlowSock, '--filter=rate', 'memory', '1G', 'rate=512M') $SlowSock -TimeoutSeconds 20 -WorkingDirectory $Work
            $Peers.Add($Slow)
        }
        $SlowUri = "nbd+unix:///?socket=$SlowSock"
    }

    AfterAll {
        Close-AdminSession $S
        Stop-Peer $Slow
    }

    It 'Read-BlockDevice -Path of a 1 GiB image, sector by sector through the pipeline, stops within 3 s' {
        $stop = Stop-AdminCommand $S 'Read-BlockDevice -Path ./big.img | Measure-Object' -Until { $false } -WaitSeconds 1
        $stop.RunningWhenStopped | Should -BeTrue
        $stop.Stopped | Should -BeTrue
        $stop.StopSeconds | Should -BeLessThan 3
        $stop.State | Should -Be 'Stopped'
        # The session is usable afterwards, and the image was closed with the command.
        (Invoke-AdminStep $S '@(Get-BlockDevice).Count').Output[0] | Should -Be 0
    }

    It 'a new -OutFile interrupted by Ctrl+C is removed (the command created it)' -Skip:(-not $HaveNbdkit) {
        $out = Join-Path $Here 'new.bin'
        $stop = Stop-AdminCommand $S "Read-BlockDevice -Uri '$SlowUri' -OutFile ./new.bin" -Until { Test-Path -LiteralPath $out } -WaitSeconds 10
        $stop.RunningWhenStopped | Should -BeTrue
        $stop.StopSeconds | Should -BeLessThan 3
        Test-Path -LiteralPath $out | Should -BeFalse
    }

    It 'an existing file given to -OutFile and interrupted by Ctrl+C is still there' -Skip:(-not $HaveNbdkit) {
        $out = Join-Path $Here 'keep.bin'
        [IO.File]::WriteAllBytes($out, [Text.Encoding]::ASCII.GetBytes('precious'))
        $stop = Stop-AdminCommand $S "Read-BlockDevice -Uri '$SlowUri' -OutFile ./keep.bin" -Until { (Get-Item -LiteralPath $out -ErrorAction SilentlyContinue).Length -gt 8 } -WaitSeconds 10
        $stop.RunningWhenStopped | Should -BeTrue
        $stop.StopSeconds | Should -BeLessThan 3
        Test-Path -LiteralPath $out | Should -BeTrue
    }

    It 'a fifo given to -OutFile and interrupted by Ctrl+C is still a fifo' -Skip:(-not $HaveNbdkit) {
        $fifo = Join-Path $Here 'out.fifo'
        & mkfifo $fifo
        # A reader that drains the fifo (without one, opening it for writing would block in the kernel).
        $info = [Diagnostics.ProcessStartInfo]::new('dd')
        foreach ($argument in "if=$fifo", 'of=/dev/null', 'bs=1M', 'status=none') { $info.ArgumentList.Add($argument) }
        $info.UseShellExecute = $false
        $reader = [Diagnostics.Process]::Start($info)
        $Peers.Add($reader)
        $stop = Stop-AdminCommand $S "Read-BlockDevice -Uri '$SlowUri' -OutFile ./out.fifo" -Until { $false } -WaitSeconds 1.5
        $stop.RunningWhenStopped | Should -BeTrue
        $stop.StopSeconds | Should -BeLessThan 3
        & test -p $fifo
        $LASTEXITCODE | Should -Be 0
        Stop-Peer $reader
    }

    It 'an existing file given to -OutFile of a 1 GiB image read, stopped at once, is still there' {
        $out = Join-Path $Here 'backup.bin'
        [IO.File]::WriteAllBytes($out, [Text.Encoding]::ASCII.GetBytes('last week'))
        $stop = Stop-AdminCommand $S 'Read-BlockDevice -Path ./big.img -OutFile ./backup.bin' -Until { $true } -WaitSeconds 0
        $stop.Stopped | Should -BeTrue
        $stop.StopSeconds | Should -BeLessThan 3
        Test-Path -LiteralPath $out | Should -BeTrue
    }
}

Describe '-ErrorAction in a clean-up script' {
    BeforeAll {
        $S = New-AdminSession 'cleanup'
    }

    AfterAll {
        Close-AdminSession $S
    }

    It '<Command> is silent and does not stop the script' -ForEach @(
        @{ Command = 'Close-BlockDevice nosuch -ErrorAction SilentlyContinue' }
        @{ Command = 'Disconnect-NbdDevice nosuch -ErrorAction SilentlyContinue' }
        @{ Command = 'Stop-NbdServer nosuch -ErrorAction SilentlyContinue' }
        @{ Command = 'Stop-XenstoreServer nosuch -ErrorAction SilentlyContinue' }
        @{ Command = 'Get-BlockDevice -Name nosuch -ErrorAction SilentlyContinue' }
    ) {
        $r = Invoke-Admin $S "$Command; 'next line'"
        $r.Exception | Should -BeNullOrEmpty
        $r.Errors.Count | Should -Be 0
        $r.Output | Should -Be @('next line')
    }

    It 'a clean-up script run by pwsh prints nothing but its own output' {
        $script = @"
Import-Module '$ModulePath'
Close-BlockDevice nosuch -ErrorAction SilentlyContinue
Disconnect-NbdDevice nosuch -ErrorAction SilentlyContinue
Stop-NbdServer nosuch -ErrorAction SilentlyContinue
Get-BlockDevice | Close-BlockDevice
Get-NbdServer | Stop-NbdServer
'clean'
"@
        $file = Join-Path $Work 'cleanup.ps1'
        Set-Content -LiteralPath $file -Value $script
        # pwsh itself (a global tool runs under dotnet, so not this process's path).
        $pwsh = (Get-Command pwsh -CommandType Application -ErrorAction SilentlyContinue | Select-Object -First 1).Source
        if (-not $pwsh) { $pwsh = Join-Path $PSHOME 'pwsh' }
        $result = Invoke-Tool $pwsh @('-NoProfile', '-NonInteractive', '-File', $file) -TimeoutSeconds 60
        $result.Error | Should -BeNullOrEmpty
        $result.Output.Trim() | Should -BeExactly 'clean'
        $result.ExitCode | Should -Be 0
    }

    It 'without -ErrorAction the error is shown and the script goes on; with Stop it is caught by its id' {
        $r = Invoke-Admin $S "Close-BlockDevice nosuch; 'next line'"
        $r.Exception | Should -BeNullOrEmpty
        $r.Errors.FullyQualifiedErrorId | Should -Match '^DeviceNotFound,'
        $r.Output | Should -Be @('next line')
        $r = Invoke-Admin $S 'try { Close-BlockDevice nosuch -ErrorAction Stop } catch { $_.FullyQualifiedErrorId }'
        $r.Output | Should -Match '^DeviceNotFound,'
    }
}

Describe 'The other runnable examples: listing, statistics, previews, servers by name' {
    BeforeAll {
        $S = New-AdminSession 'more'
        $Here = Join-Path $Work 'more'
        New-RealisticDisk (Join-Path $Here 'disk.img')
        $Kit = $null
        $KitSock = Join-Path $Here 'kit.sock'
        if ($HaveNbdkit) {
            $Kit = Start-Peer nbdkit @('-f', '--exit-with-parent', '-U', $KitSock, 'memory', '256M') $KitSock -TimeoutSeconds 20 -WorkingDirectory $Work
            $Peers.Add($Kit)
        }
    }

    AfterAll {
        Close-AdminSession $S
        Stop-Peer $Kit
    }

    It 'about_VirtualDevices: the image described and its boot sector shown' {
        $r = Invoke-DocExample $S about_VirtualDevices "Get-BlockDeviceInfo -Path ./disk.img`nRead-BlockDevice -Path ./disk.img -Count 1"
        $r.Output[0].SizeBytes | Should -Be 1GB
        $r.Output[1].Data[510], $r.Output[1].Data[511] | Should -Be @(0x55, 0xAA)
    }

    It 'Get-BlockDevice example 1 and Get-BlockDeviceInfo example 4: the devices listed and described through the pipeline' {
        $null = Invoke-AdminStep $S 'Open-BlockDevice -Path ./disk.img -Name disk | Out-Null; New-BlockDevice -Size 64MB -Name ram | Out-Null'
        $r = Invoke-DocExample $S Get-BlockDevice 'Get-BlockDevice'
        $r.Output.Name | Should -Be @('disk', 'ram')
        $text = Show-Output $r 80
        $text | Should -Match 'disk\s+file\s+'
        $text | Should -Match 'ram\s+memory\s+64\.0 MiB'
        $r = Invoke-DocExample $S Get-BlockDeviceInfo 'Get-BlockDevice | Get-BlockDeviceInfo | Format-Table Device, Driver, SizeBytes, ReadOnly, IsConnected'
        $text = Show-Output $r
        $text | Should -Match 'disk\s+file\s+1073741824\s+False\s+True'
        $text | Should -Match 'ram\s+memory\s+67108864\s+False\s+True'
    }

    It 'Get-DeviceStats examples 1 and 2: one snapshot each, then per-interval rates of one device' {
        $null = Invoke-AdminStep $S 'Read-BlockDevice -Device disk -Count 2048 -SectorsPerObject 2048 | Out-Null'
        $r = Invoke-DocExample $S Get-DeviceStats 'Get-DeviceStats'
        ($r.Output | Where-Object Device -eq 'disk').ReadBytes | Should -Be 1MB
        ($r.Output | Where-Object Device -eq 'ram').ReadBytes | Should -Be 0
        # Two samples rather than ten; the second second's read is counted in that interval alone.
        $r = Invoke-DocExample $S Get-DeviceStats 'Get-DeviceStats -Name disk -Interval 1 -Count 10' -Replace @{ '-Count 10' = '-Count 2' } -TimeoutSeconds 15
        $r.Output.Count | Should -Be 2
        $r.Output.Device | Should -Be @('disk', 'disk')
        ($r.Output | Measure-Object ReadBytes -Sum).Sum | Should -Be 0
    }

    It 'Reset-DeviceStats examples 4 and 1: a preview changes nothing, the reset zeroes every device' {
        $null = Invoke-DocExample $S Reset-DeviceStats 'Reset-DeviceStats -WhatIf'
        (Invoke-AdminStep $S '(Get-DeviceStats -Name disk).ReadBytes').Output[0] | Should -Be 1MB
        $null = Invoke-DocExample $S Reset-DeviceStats 'Reset-DeviceStats'
        (Invoke-AdminStep $S '(Get-DeviceStats | Measure-Object ReadBytes -Sum).Sum').Output[0] | Should -Be 0
    }

    It 'Close-BlockDevice examples 1 and 2: by name, then every device' {
        $null = Invoke-DocExample $S Close-BlockDevice 'Close-BlockDevice -Device disk'
        (Invoke-AdminStep $S '(Get-BlockDevice).Name').Output | Should -Be @('ram')
        $null = Invoke-DocExample $S Close-BlockDevice 'Get-BlockDevice | Close-BlockDevice'
        (Invoke-AdminStep $S '@(Get-BlockDevice).Count').Output[0] | Should -Be 0
        Test-Path (Join-Path $Here 'disk.img') | Should -BeTrue
    }

    It 'Start-NbdServer example 4: the -WhatIf preview starts nothing' {
        $null = Invoke-AdminStep $S 'New-BlockDevice -Size 256MB -Name disk | Out-Null'
        $null = Invoke-DocExample $S Start-NbdServer 'Start-NbdServer -Device disk -Address 0.0.0.0 -Tls Require -TlsCertificates /etc/pki/nbd -WhatIf'
        (Invoke-AdminStep $S '@(Get-NbdServer).Count').Output[0] | Should -Be 0
    }

    It 'Get-NbdServer example 1, Get-NbdExport example 3, Stop-NbdServer examples 1 and 2: servers by name' {
        $null = Invoke-AdminStep $S 'Start-NbdServer -Device disk -Port 0 | Out-Null; Start-NbdServer -Device disk -SocketPath ./scratch.sock -Name scratch | Out-Null'
        $r = Invoke-DocExample $S Get-NbdServer 'Get-NbdServer'
        $r.Output.Name | Should -Be @('nbd-server0', 'scratch')
        $text = Show-Output $r
        $text | Should -Match 'nbd-server0\s+True\s+0\s+nbd://127\.0\.0\.1:\d+'
        # The socket column shows the path's start (a long path is cut with an ellipsis, like any table column).
        $text | Should -Match 'scratch\s+True\s+0\s+nbd\+unix:///\?socket=/'
        $port = $r.Output[0].TcpEndPoint.Port
        $r = Invoke-DocExample $S Get-NbdExport "`$export = Get-NbdExport -Uri nbd://127.0.0.1:10810 | Where-Object Name -eq 'a'`n`$export.Flags.HasFlag([VirtualDevices.Nbd.NbdTransmissionFlags]::CanMultiConnection)" -Replace @{ '10810' = $port; "-eq 'a'" = "-eq 'disk'" }
        $r.Output | Should -Be @($true)
        $null = Invoke-DocExample $S Stop-NbdServer 'Stop-NbdServer nbd-server0'
        (Invoke-AdminStep $S '(Get-NbdServer).Name').Output | Should -Be @('scratch')
        $null = Invoke-DocExample $S Stop-NbdServer 'Get-NbdServer | Stop-NbdServer'
        (Invoke-AdminStep $S '@(Get-NbdServer).Count').Output[0] | Should -Be 0
        Test-Path (Join-Path $Here 'scratch.sock') | Should -BeFalse
        # A server started with -Device leaves the device open in the session.
        (Invoke-AdminStep $S '(Get-BlockDevice).Name').Output | Should -Be @('disk')
    }

    It 'Get-NbdExport example 2 against our server over TCP: the writable exports with their sizes' {
        $port = (Invoke-AdminStep $S '(Start-NbdServer -Device disk -Port 0 -Name storage).TcpEndPoint.Port').Output[0]
        $r = Invoke-DocExample $S Get-NbdExport 'Get-NbdExport -Server storage01 -Port 10809 | Where-Object { -not $_.ReadOnly } | Select-Object Name, Size' -Replace @{ 'storage01' = '127.0.0.1'; '10809' = $port }
        $r.Output.Name | Should -Be @('', 'disk')
        $r.Output.Size | Should -Be @(256MB, 256MB)
        $null = Invoke-AdminStep $S 'Stop-NbdServer storage; Close-BlockDevice disk'
    }

    It 'Disconnect-NbdDevice examples 3 and 1 against nbdkit: a preview keeps the device; then it is gone' -Skip:(-not $HaveNbdkit) {
        $null = Invoke-DocExample $S Disconnect-NbdDevice "Connect-NbdDevice -Uri 'nbd+unix:///?socket=/tmp/nbdkit.sock' -Name ram | Out-Null" -Replace @{ '/tmp/nbdkit.sock' = $KitSock }
        $null = Invoke-DocExample $S Disconnect-NbdDevice 'Disconnect-NbdDevice nbd0, nbd1 -WhatIf' -Replace @{ 'nbd0, nbd1' = 'ram' }
        (Invoke-AdminStep $S '(Get-BlockDevice).Name').Output | Should -Be @('ram')
        $r = Invoke-DocExample $S Disconnect-NbdDevice "Disconnect-NbdDevice ram`nGet-BlockDevice -Name ram" -AllowErrors
        $r.Exception | Should -BeNullOrEmpty
        $r.Errors.FullyQualifiedErrorId | Should -Match '^DeviceNotFound,'
        "$($r.Errors[0])" | Should -BeExactly "No device named 'ram' was found."
    }

    It 'about_VirtualDevices: closing everything leaves nothing running' {
        $null = Invoke-AdminStep $S 'New-BlockDevice -Size 16MB -Name last | Out-Null; Start-XenstoreServer | Out-Null'
        $null = Invoke-DocExample $S about_VirtualDevices "Get-BlockDevice | Close-BlockDevice`nDisconnect-Xenstore`nGet-XenstoreServer | Stop-XenstoreServer"
        (Invoke-AdminStep $S '@(Get-BlockDevice).Count; @(Get-XenstoreServer).Count').Output | Should -Be @(0, 0)
    }
}
