# The xenstore checks of the Xen lab that go through PowerShell (issue 10): the module imported by pwsh (the pinned
# .NET global tool) inside dom0, against the real daemon this dom0 runs, over xenstored's socket and over
# /dev/xen/xenbus: the item cmdlets, Invoke-XenstoreTransaction, Watch-XenstorePath (with a writer outside pwsh) and
# the Xs: drive. Prints one check line per check ("name<TAB>pass|fail|skip<TAB>message"); exits 1 when one failed.
#   pwsh -NoProfile -File Xenstore.Checks.ps1 [-Module /lab/module/VirtualDevices]
param([string] $Module = '/lab/module/VirtualDevices')

$ErrorActionPreference = 'Stop'
$script:failed = 0

function Write-Check([string] $Name, [string] $Status, [string] $Message) {
    $clean = $Message -replace "[`t`r`n]+", ' '
    [Console]::Out.WriteLine("$Name`t$Status`t$clean")
}

# Runs one check: its script block returns the pass message, or throws (fail). Bounded by the harness's time limit
# on the whole command; each wait inside has its own -Timeout.
function Invoke-Check([string] $Name, [scriptblock] $Body) {
    $watch = [Diagnostics.Stopwatch]::StartNew()
    try {
        $message = & $Body
        Write-Check $Name 'pass' "$message ($($watch.ElapsedMilliseconds) ms)"
    } catch {
        $script:failed++
        $id = if ($_.FullyQualifiedErrorId) { " [$($_.FullyQualifiedErrorId)]" } else { '' }
        Write-Check $Name 'fail' "$($_.Exception.Message)$id at $($_.InvocationInfo.PositionMessage)"
        [Console]::Error.WriteLine(($_ | Out-String))
    }
}

# A writer outside pwsh (sh running the xenstore-* tools of libxenstore), started without waiting for it.
function Start-Shell([string] $Command) {
    $info = [Diagnostics.ProcessStartInfo]::new('sh')
    $info.ArgumentList.Add('-c')
    $info.ArgumentList.Add($Command)
    $info.UseShellExecute = $false
    [Diagnostics.Process]::Start($info)
}

function Wait-Shell([Diagnostics.Process[]] $Process) {
    foreach ($p in $Process) {
        if (-not $p.WaitForExit(30000)) { $p.Kill(); throw "sh did not finish in 30 s" }
        if ($p.ExitCode -ne 0) { throw "sh exited $($p.ExitCode)" }
    }
}

function Assert-Equal($Expected, $Actual, [string] $What) {
    if ($Expected -cne $Actual) { throw "${What}: expected '$Expected', got '$Actual'" }
}

Invoke-Check 'pwsh.import-module' {
    Import-Module $Module
    "VirtualDevices $((Get-Module VirtualDevices).Version) in PowerShell $($PSVersionTable.PSVersion)"
}
if ($script:failed) { exit 1 }

# LAB_XENSTORE_SOCKET points elsewhere for a dry run outside the lab (against Start-XenstoreServer, xenbus skipped).
$socket = if ($env:LAB_XENSTORE_SOCKET) { $env:LAB_XENSTORE_SOCKET } else { '/var/run/xenstored/socket' }
$transports = [ordered]@{
    socket = { Connect-Xenstore -SocketPath $socket }
    xenbus = { Connect-Xenstore -DevicePath /dev/xen/xenbus }
}
foreach ($transport in $transports.Keys) {
    if ($transport -eq 'xenbus' -and -not (Test-Path /dev/xen/xenbus)) {
        Write-Check 'pwsh.xenbus.connect' 'skip' 'no /dev/xen/xenbus (not in dom0)'
        continue
    }
    $root = "/vdlab/pwsh-$transport"
    $p = "pwsh.$transport"

    Invoke-Check "$p.connect" {
        $store = & $transports[$transport]
        Assert-Equal $true $store.IsConnected 'IsConnected'
        Remove-XenstoreItem -Path $root -Recurse -ErrorAction SilentlyContinue
        "$($store.Endpoint)"
    }

    Invoke-Check "$p.items" {
        Set-XenstoreItem -Path "$root/name" -Value 'lab'
        Assert-Equal 'lab' (Get-XenstoreItem -Path "$root/name").Value 'Get-XenstoreItem'
        Assert-Equal 'lab' (& xenstore-read "$root/name") 'xenstore-read of our write'
        New-XenstoreItem -Path "$root/dir/a" -Value 1 | Out-Null
        New-XenstoreItem -Path "$root/dir/b" -Value 2 | Out-Null
        Assert-Equal 'a,b' ((Get-XenstoreItem -Path "$root/dir/*").Name -join ',') 'wildcard'
        Set-XenstorePermission -Path "$root/dir/a" -Permission 'n0 r0'
        Assert-Equal 'n0 r0' (Get-XenstorePermission -Path "$root/dir/a").Text 'permissions'
        Remove-XenstoreItem -Path "$root/dir" -Recurse
        Assert-Equal $null (Get-XenstoreItem -Path "$root/dir" -ErrorAction SilentlyContinue) 'removed'
        'Set/New/Get/Remove-XenstoreItem, Get/Set-XenstorePermission'
    }

    Invoke-Check "$p.missing-item-error" {
        try {
            Get-XenstoreItem -Path "$root/missing" -ErrorAction Stop
            throw 'no error for a missing node'
        } catch [System.Management.Automation.ItemNotFoundException], [System.Management.Automation.RuntimeException] {
            if ($_.FullyQualifiedErrorId -notlike '*,*') { throw "untyped error: $($_.FullyQualifiedErrorId)" }
            if ($_.FullyQualifiedErrorId -like 'no error*') { throw $_ }
            "$($_.FullyQualifiedErrorId) ($($_.CategoryInfo.Category))"
        }
    }

    Invoke-Check "$p.transaction" {
        Set-XenstoreItem -Path "$root/counter" -Value 0
        $jobs = 1..2 | ForEach-Object {
            # A writer outside pwsh that keeps changing the counter's neighbourhood, to provoke conflicts.
            Start-Shell "for i in 1 2 3 4 5; do xenstore-write $root/noise `$i; done"
        }
        $results = 1..20 | ForEach-Object {
            Invoke-XenstoreTransaction {
                $next = [int]$Transaction.Read("$root/counter") + 1
                $Transaction.Write("$root/counter", $next)
                $next
            }
        }
        Wait-Shell $jobs
        Assert-Equal '20' (Get-XenstoreItem -Path "$root/counter").Value 'counter'
        Assert-Equal (1..20 -join ',') ($results -join ',') 'each run''s output written once'
        'twenty increments committed, output written once per commit'
    }

    Invoke-Check "$p.watch-until-value" {
        Set-XenstoreItem -Path "$root/state" -Value 1
        $writer = Start-Shell "sleep 1; xenstore-write $root/state 3; xenstore-write $root/state 4"
        $event = Watch-XenstorePath -Path "$root/state" -UntilValue 4 -Timeout 30
        Wait-Shell $writer
        Assert-Equal "$root/state" $event.NodePath 'NodePath'
        Assert-Equal '4' $event.Value 'Value'
        "state reached 4 (written by xenstore-write), event at $($event.Timestamp.ToString('HH:mm:ss.fff'))"
    }

    Invoke-Check "$p.watch-count" {
        $writer = Start-Shell "sleep 1; xenstore-write $root/events/x 1; xenstore-rm $root/events/x"
        $events = @(Watch-XenstorePath -Path "$root/events" -IncludeValue -Count 3 -Timeout 30)
        Wait-Shell $writer
        Assert-Equal 3 $events.Count 'events'
        Assert-Equal "$root/events" $events[0].NodePath 'registration event'
        Assert-Equal "$root/events/x|True|1" "$($events[1].NodePath)|$($events[1].Exists)|$($events[1].Value)" 'write event'
        Assert-Equal "$root/events/x|False" "$($events[2].NodePath)|$($events[2].Exists)" 'remove event'
        'registration, write (value 1), remove (Exists false)'
    }

    Invoke-Check "$p.watch-timeout" {
        try {
            Watch-XenstorePath -Path "$root/never" -UntilValue done -Timeout 1 -ErrorAction Stop | Out-Null
            throw 'no timeout error'
        } catch {
            if ($_.FullyQualifiedErrorId -notlike 'XenstoreWaitTimeout*') { throw "expected XenstoreWaitTimeout, got $($_.FullyQualifiedErrorId)" }
            $_.FullyQualifiedErrorId
        }
    }

    Invoke-Check "$p.xs-drive" {
        New-Item -Path "Xs:$root/drive/leaf" -Value 'from New-Item' | Out-Null
        Assert-Equal 'from New-Item' (Get-Content -Path "Xs:$root/drive/leaf") 'Get-Content'
        Set-Content -Path "Xs:$root/drive/leaf" -Value 'from Set-Content'
        Assert-Equal 'from Set-Content' (& xenstore-read "$root/drive/leaf") 'xenstore-read after Set-Content'
        Assert-Equal $true (Test-Path "Xs:$root/drive/leaf") 'Test-Path'
        $names = (Get-ChildItem -Path Xs:/local/domain/0 -Recurse | Select-Object -ExpandProperty NodePath)
        if ('/local/domain/0/name' -notin $names) { throw "Get-ChildItem -Recurse Xs:/local/domain/0 lacks /local/domain/0/name: $($names -join ' ')" }
        Push-Location "Xs:$root/drive"
        try { Assert-Equal 'from Set-Content' (Get-Content leaf) 'relative path after Set-Location' } finally { Pop-Location }
        Remove-Item -Path "Xs:$root/drive" -Recurse
        Assert-Equal $false (Test-Path "Xs:$root/drive") 'Test-Path after Remove-Item'
        "New-Item, Get/Set-Content, Test-Path, Get-ChildItem -Recurse ($($names.Count) nodes below dom0), Set-Location, Remove-Item"
    }

    Invoke-Check "$p.disconnect" {
        Disconnect-Xenstore
        'disconnected'
    }
}

exit ([int]($script:failed -gt 0))
