# Helpers shared by the Pester suites of tests/Pester. Every suite dot-sources this file as the first line of its
# top-level BeforeAll:
#
#     BeforeAll {
#         . (Join-Path $PSScriptRoot 'Helpers/TestHelpers.ps1')
#
# Dot-sourced there, the functions live in the suite's run-phase scope, so every Describe, Context, It and hook of the
# file sees them (as if the suite had defined them itself). Not a module: a module's functions would run in the
# module's own session state, away from the suite's variables ($TestDrive, Pester's Should inside a helper). Not in
# BeforeDiscovery: what is defined there is gone when the tests run.
#
# Pester runs only *.Tests.ps1 files, so this file is never taken for a suite. A helper that one suite alone uses
# stays in that suite.

# Returns $Count pseudo-random bytes, the same for the same $Seed (a failing test can be rerun with the same data).
# The leading comma returns the array as one object instead of unrolling it into single bytes.
function New-RandomBytes([int] $Count, [int] $Seed = 1) {
    $bytes = [byte[]]::new($Count)
    [Random]::new($Seed).NextBytes($bytes)
    , $bytes
}

# The SHA-256 of a byte array, as upper-case hex: compares large buffers in one assertion whose failure message is short.
function Get-BytesHash([byte[]] $Bytes) {
    [Convert]::ToHexString([Security.Cryptography.SHA256]::HashData($Bytes))
}

# The SHA-256 of a file's content, as upper-case hex (the same form as Get-BytesHash).
function Get-FileSha256([string] $Path) {
    (Get-FileHash -LiteralPath $Path -Algorithm SHA256).Hash
}

# Joins the Data of BlockData objects (Read-BlockDevice's output) into one byte array.
function Join-BlockData([object[]] $Blocks) {
    $stream = [IO.MemoryStream]::new()
    foreach ($block in $Blocks) {
        $stream.Write($block.Data, 0, $block.Data.Length)
    }
    , $stream.ToArray()
}

# A TCP port of 127.0.0.1 nobody listens on (it was free a moment ago): for servers and for connections that must be
# refused, without taking a fixed port another test of the machine may be using.
function Get-FreePort {
    $listener = [Net.Sockets.TcpListener]::new([Net.IPAddress]::Loopback, 0)
    $listener.Start()
    try { $listener.LocalEndpoint.Port } finally { $listener.Stop() }
}

# Polls $Condition every 50 ms for at most $TimeoutSeconds; returns whether it held. For what happens on another
# thread or in another process (a connection counted, a socket created, a runspace closed).
function Wait-Condition([scriptblock] $Condition, [double] $TimeoutSeconds = 10) {
    $deadline = [DateTime]::UtcNow.AddSeconds($TimeoutSeconds)
    while (-not (& $Condition)) {
        if ([DateTime]::UtcNow -gt $deadline) { return $false }
        Start-Sleep -Milliseconds 50
    }
    $true
}

# Runs a program to its end with its arguments passed as they are (no shell, no PowerShell parsing of them), and
# returns its exit code and its whole standard output and error. A program still running after $TimeoutSeconds is
# killed, with its children, and the call throws: a hung tool fails its test instead of hanging the run.
function Invoke-Tool([string] $Name, [string[]] $Arguments, [int] $TimeoutSeconds = 60) {
    $info = [Diagnostics.ProcessStartInfo]::new((Get-Command $Name -CommandType Application | Select-Object -First 1).Source)
    foreach ($argument in $Arguments) { $info.ArgumentList.Add($argument) }
    $info.UseShellExecute = $false
    $info.RedirectStandardOutput = $true
    $info.RedirectStandardError = $true
    $process = [Diagnostics.Process]::Start($info)
    # Both pipes are read while the program runs: one that writes more than a pipe holds (64 KiB) would block.
    $stdout = $process.StandardOutput.ReadToEndAsync()
    $stderr = $process.StandardError.ReadToEndAsync()
    if (-not $process.WaitForExit($TimeoutSeconds * 1000)) {
        $process.Kill($true)
        throw "$Name $Arguments did not finish within $TimeoutSeconds s"
    }
    $process.WaitForExit()
    [pscustomobject]@{ ExitCode = $process.ExitCode; Output = $stdout.Result; Error = $stderr.Result }
}

# Starts a real peer (nbdkit -f, qemu-nbd) in the background and returns its process once the peer has created its
# unix socket $Socket; the caller stops it with Stop-Peer. A peer that exits, or has made no socket within
# $TimeoutSeconds, is killed and the call throws with what the peer wrote to its standard error.
function Start-Peer([string] $Name, [string[]] $Arguments, [string] $Socket, [double] $TimeoutSeconds = 10, [string] $WorkingDirectory) {
    $info = [Diagnostics.ProcessStartInfo]::new((Get-Command $Name -CommandType Application | Select-Object -First 1).Source)
    foreach ($argument in $Arguments) { $info.ArgumentList.Add($argument) }
    $info.UseShellExecute = $false
    if ($WorkingDirectory) { $info.WorkingDirectory = $WorkingDirectory }
    $info.RedirectStandardOutput = $true
    $info.RedirectStandardError = $true
    $process = [Diagnostics.Process]::Start($info)
    # Read for as long as the peer runs: a peer that logs (nbdkit's error filter logs each failed request) would
    # block once a pipe's 64 KiB were full.
    $null = $process.StandardOutput.ReadToEndAsync()
    $stderr = $process.StandardError.ReadToEndAsync()
    if (-not (Wait-Condition { (Test-Path -LiteralPath $Socket) -or $process.HasExited } $TimeoutSeconds) -or $process.HasExited) {
        $why = if ($process.HasExited) { "exited with $($process.ExitCode)" } else { "no socket $Socket after $TimeoutSeconds s" }
        Stop-Peer $process
        $said = if ($stderr.Wait(2000)) { $stderr.Result.Trim() } else { '' }
        throw "$Name $Arguments did not start ($why): $said"
    }
    $process
}

# Kills a peer started by Start-Peer (or any process), with its children, and waits up to 10 s for it to end.
# Does nothing for $null or a process that has exited, so clean-up blocks can call it whether the start succeeded or not.
function Stop-Peer([Diagnostics.Process] $Process) {
    if ($Process -and -not $Process.HasExited) {
        $Process.Kill($true)
        $null = $Process.WaitForExit(10000)
    }
}

# The completion texts TabExpansion2 offers at the end of $InputScript, in the order offered; -Sort sorts them, for
# tests that check which texts are offered and not in what order.
function Get-Completion([string] $InputScript, [switch] $Sort) {
    $result = TabExpansion2 -inputScript $InputScript -cursorColumn $InputScript.Length
    $texts = @($result.CompletionMatches | ForEach-Object CompletionText)
    if ($Sort) { $texts = @($texts | Sort-Object) }
    $texts
}

# Returns the session to no xenstore at all: removes the Xenstore drives other than Xs: (a drive may hold a
# connection of its own), closes the session's xenstore, then stops every embedded server of the session. The
# connections go before the servers: a socket connection whose server disappears would try to reconnect for 30 s.
function Reset-XenstoreSession {
    Get-PSDrive -PSProvider Xenstore | Where-Object Name -ne 'Xs' | Remove-PSDrive
    Disconnect-Xenstore -Confirm:$false
    Get-XenstoreServer | Stop-XenstoreServer -Confirm:$false
}
