#Requires -Version 7.4
# Pester 5 tests of Watch-XenstorePath under load: a consumer slower than a write storm keeps bounded memory, and
# every change is either seen or counted as dropped (DroppedBefore on the next change seen, and a warning).
# Run with: Invoke-Pester ./tests/Pester (after `dotnet build src/VirtualDevices.PowerShell`).

BeforeAll {
    . (Join-Path $PSScriptRoot 'Helpers/TestHelpers.ps1')
    $ModulePath = Join-Path $PSScriptRoot '../../out/VirtualDevices/VirtualDevices.psd1'
    Import-Module $ModulePath -Force
}

Describe 'Watch-XenstorePath with a slow consumer under a write storm' {
    BeforeAll {
        Reset-XenstoreSession
        $Socket = Join-Path $TestDrive 'storm.sock'
        Start-XenstoreServer -SocketPath $Socket | Out-Null
        Set-XenstoreItem -Path /storm/n -Value start
    }
    AfterAll { Reset-XenstoreSession }

    It 'drops the oldest changes beyond the watch buffer, counts every one, and says so' {
        # 12,000 writes from another session, against a buffer of 4,096 a watch, read by a consumer that sleeps.
        $writes = 12000
        $writer = [powershell]::Create()
        $null = $writer.AddScript({
            param($Module, $Socket, $Writes)
            Import-Module $Module
            Connect-Xenstore -SocketPath $Socket | Out-Null
            Start-Sleep -Milliseconds 300   # the watch is registered meanwhile
            for ($i = 1; $i -lt $Writes; $i++) { Set-XenstoreItem -Path /storm/n -Value $i }
            Set-XenstoreItem -Path /storm/n -Value end
        }).AddArgument($ModulePath).AddArgument($Socket).AddArgument($writes)
        $running = $writer.BeginInvoke()
        try {
            $before = [GC]::GetTotalMemory($true)
            $seen = 0
            $dropped = 0
            $shown = $null
            # The consumer stalls until the storm is over, then takes what is left. It stops once every change fired
            # is accounted for (seen or counted as dropped); a change lost silently would keep it waiting until the
            # -Timeout, and the count below would then be short.
            Watch-XenstorePath -Path /storm/n -Timeout 30 -WarningVariable warned -WarningAction SilentlyContinue |
                ForEach-Object {
                    $seen++
                    $dropped += $_.DroppedBefore
                    if ($_.DroppedBefore -gt 0 -and -not $shown) { $shown = ($_ | Format-List | Out-String -Width 80) }
                    if ($seen -eq 1) { while (-not $running.IsCompleted) { Start-Sleep -Milliseconds 50 } }
                    if ($seen + $dropped -ge $writes + 1) { $_ }
                } | Select-Object -First 1 | Out-Null
            $growth = [GC]::GetTotalMemory($true) - $before
            $writer.EndInvoke($running)
            $writer.Streams.Error | Should -BeNullOrEmpty
        } finally { $writer.Dispose() }

        # The first event fires at registration, then one a write: all of them seen or counted.
        $dropped | Should -BeGreaterThan 0
        ($seen + $dropped) | Should -Be ($writes + 1)
        @($warned).Count | Should -BeGreaterThan 0
        "$($warned[0])" | Should -BeLike 'Changes arrive faster than they are consumed: the oldest are being dropped (* so far; up to 4096 are kept a path).'
        # The list view shows the count where there is one.
        $shown | Should -Match 'DroppedBefore : \d+'
        # Bounded: the watch keeps at most 4,096 events (each well under 1 KiB), not the whole storm.
        $growth | Should -BeLessThan 16MB
    }
}
