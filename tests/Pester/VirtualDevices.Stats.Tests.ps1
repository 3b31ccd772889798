#Requires -Version 7.4
# Pester 5 tests of the statistics cmdlets: Get-DeviceStats and Reset-DeviceStats, and of the counting done by the
# block cmdlets. Run with: Invoke-Pester ./tests/Pester (after `dotnet build src/VirtualDevices.PowerShell`).

BeforeAll {
    . (Join-Path $PSScriptRoot 'Helpers/TestHelpers.ps1')
    Import-Module (Join-Path $PSScriptRoot '../../out/VirtualDevices/VirtualDevices.psd1') -Force
    Get-BlockDevice | Close-BlockDevice -Confirm:$false
}

AfterAll {
    Get-BlockDevice | Close-BlockDevice -Confirm:$false
}

Describe 'Get-DeviceStats' {
    BeforeEach {
        $device = New-BlockDevice -Size 1MB -Name st
    }

    AfterEach {
        Get-BlockDevice | Close-BlockDevice -Confirm:$false
    }

    Context 'snapshots' {
        It 'starts at zero for a new device' {
            $stats = Get-DeviceStats -Name st

            $stats.GetType().FullName | Should -Be 'VirtualDevices.Devices.BlockStatistics'
            $stats.Device | Should -Be 'st'
            $stats.Driver | Should -Be 'memory'
            $stats.Kind.ToString() | Should -Be 'Block'
            $stats.ReadOps | Should -Be 0
            $stats.ReadBytes | Should -Be 0
            $stats.WriteOps | Should -Be 0
            $stats.WriteBytes | Should -Be 0
            $stats.FlushOps | Should -Be 0
            $stats.TrimOps | Should -Be 0
            $stats.ZeroOps | Should -Be 0
            $stats.Errors | Should -Be 0
            $stats.Timestamp | Should -BeGreaterOrEqual $stats.Start
            $stats.Elapsed | Should -Be ($stats.Timestamp - $stats.Start)
        }

        It 'counts one read per object Read-BlockDevice writes' {
            $null = Read-BlockDevice -Device st -Count 4
            $stats = Get-DeviceStats -Name st
            $stats.ReadOps | Should -Be 4
            $stats.ReadBytes | Should -Be 2048
            $stats.WriteOps | Should -Be 0
        }

        It 'counts one read per object of -SectorsPerObject sectors' {
            $null = Read-BlockDevice -Device st -Count 8 -SectorsPerObject 4
            $stats = Get-DeviceStats -Name st
            $stats.ReadOps | Should -Be 2
            $stats.ReadBytes | Should -Be 4096
        }

        It 'counts the reads of Read-BlockDevice -OutFile' {
            Read-BlockDevice -Device st -OutFile (Join-Path $TestDrive 'st.raw')
            $stats = Get-DeviceStats -Name st
            $stats.ReadBytes | Should -Be 1048576
            $stats.ReadOps | Should -BeGreaterOrEqual 1
        }

        It 'counts one write per Write-BlockDevice' {
            Write-BlockDevice -Device st -Data (New-RandomBytes 1024) -Sector 8 -Force
            Write-BlockDevice -Device st -Data (New-RandomBytes 512) -Sector 0 -Force
            $stats = Get-DeviceStats -Name st
            $stats.WriteOps | Should -Be 2
            $stats.WriteBytes | Should -Be 1536
            $stats.ReadOps | Should -Be 0
        }

        It 'counts one write per piped object' {
            Read-BlockDevice -Device st -Count 6 -SectorsPerObject 2 | Write-BlockDevice -Device st -Force
            $stats = Get-DeviceStats -Name st
            $stats.ReadOps | Should -Be 3
            $stats.WriteOps | Should -Be 3
            $stats.WriteBytes | Should -Be 3072
        }

        It 'counts nothing for a write skipped with -WhatIf' {
            Write-BlockDevice -Device st -Data (New-RandomBytes 512) -Force -WhatIf
            (Get-DeviceStats -Name st).WriteOps | Should -Be 0
        }

        It 'counts requests that the device refuses as errors' {
            $image = Join-Path $TestDrive 'ro.img'
            [IO.File]::WriteAllBytes($image, [byte[]]::new(65536))
            Open-BlockDevice -Path $image -ReadOnly -Name ro | Out-Null

            Write-BlockDevice -Device ro -Data (New-RandomBytes 512) -Force -ErrorAction SilentlyContinue
            Write-BlockDevice -Device ro -Data (New-RandomBytes 512) -Sector 1 -Force -ErrorAction SilentlyContinue

            $stats = Get-DeviceStats -Name ro
            $stats.Errors | Should -Be 2
            $stats.WriteOps | Should -Be 0
            $stats.WriteBytes | Should -Be 0
        }

        It 'keeps counting across commands while the device is open' {
            $null = Read-BlockDevice -Device st -Count 1
            $null = Read-BlockDevice -Device st -Count 1
            $null = Read-BlockDevice -Device st -Count 1
            (Get-DeviceStats -Name st).ReadOps | Should -Be 3
        }

        It 'averages the rates over the period' {
            $null = Read-BlockDevice -Device st -Count 16 -SectorsPerObject 16
            $stats = Get-DeviceStats -Name st
            $stats.ReadBytesPerSecond | Should -BeGreaterThan 0
            $stats.ReadOpsPerSecond | Should -BeGreaterThan 0
            $stats.WriteBytesPerSecond | Should -Be 0
            $stats.ReadBytesPerSecond | Should -Be ($stats.ReadBytes / $stats.Elapsed.TotalSeconds)
        }
    }

    Context 'selection' {
        BeforeEach {
            New-BlockDevice -Size 64KB -Name sa | Out-Null
            New-BlockDevice -Size 64KB -Name sb | Out-Null
        }

        It 'returns every device of the session by default' {
            (Get-DeviceStats).Device -join ',' | Should -Be 'st,sa,sb'
        }

        It 'selects devices by name, with wildcards' {
            (Get-DeviceStats -Name 's?').Device -join ',' | Should -Be 'st,sa,sb'
            (Get-DeviceStats -Name 'sa', 'st').Device -join ',' | Should -Be 'sa,st'
            (Get-DeviceStats -Name 'S*B').Device | Should -Be 'sb'
        }

        It 'returns each device once' {
            (Get-DeviceStats -Name 'sa', 's*').Device -join ',' | Should -Be 'sa,st,sb'
        }

        It 'takes devices by -Device: names and objects' {
            (Get-DeviceStats -Device sb).Device | Should -Be 'sb'
            (Get-DeviceStats -Device $device).Device | Should -Be 'st'
            (Get-DeviceStats -Device sa, sb).Device -join ',' | Should -Be 'sa,sb'
        }

        It 'takes devices piped from Get-BlockDevice' {
            (Get-BlockDevice | Get-DeviceStats).Device -join ',' | Should -Be 'st,sa,sb'
            (Get-BlockDevice -Name sb | Get-DeviceStats).Device | Should -Be 'sb'
        }

        It 'binds the Device property of piped BlockData objects, once per device' {
            $stats = Read-BlockDevice -Device st -Count 3 | Get-DeviceStats
            @($stats).Count | Should -Be 1
            $stats.Device | Should -Be 'st'
            $stats.ReadOps | Should -Be 3
        }

        It 'keeps only the devices of -Kind' {
            (Get-DeviceStats -Kind Block).Device -join ',' | Should -Be 'st,sa,sb'
            @(Get-DeviceStats -Kind Network).Count | Should -Be 0
        }

        It 'writes nothing and no error for a wildcard that matches nothing' {
            @(Get-DeviceStats -Name 'zz*' -ErrorAction Stop).Count | Should -Be 0
        }

        It 'fails with DeviceNotFound for a name that is not open' {
            { Get-DeviceStats -Name nosuch -ErrorAction Stop } |
                Should -Throw -ErrorId 'DeviceNotFound,VirtualDevices.PowerShell.Commands.Devices.GetDeviceStatsCommand'
        }

        It 'refuses a -Device name that is not open' {
            { Get-DeviceStats -Device nosuch -ErrorAction Stop } | Should -Throw -ExpectedMessage "*No device named 'nosuch'*"
        }

        It 'no longer lists a closed device' {
            Close-BlockDevice -Device sa
            (Get-DeviceStats).Device -join ',' | Should -Be 'st,sb'
        }

        It 'returns nothing when no device is open' {
            Get-BlockDevice | Close-BlockDevice
            @(Get-DeviceStats).Count | Should -Be 0
        }
    }

    Context '-Interval and -Count' {
        It 'writes -Count samples of the counters of each interval' {
            $null = Read-BlockDevice -Device st -Count 4

            $samples = @(Get-DeviceStats -Name st -Interval 0.2 -Count 3)

            $samples.Count | Should -Be 3
            foreach ($sample in $samples) {
                $sample.GetType().FullName | Should -Be 'VirtualDevices.Devices.BlockStatistics'
                $sample.Device | Should -Be 'st'
                # The reads happened before sampling began: each interval counts none of them.
                $sample.ReadOps | Should -Be 0
                $sample.ReadBytes | Should -Be 0
                $sample.Elapsed.TotalSeconds | Should -BeGreaterThan 0.15
                $sample.Elapsed.TotalSeconds | Should -BeLessThan 5
            }
            # The snapshot without -Interval still has the counters since the device was opened.
            (Get-DeviceStats -Name st).ReadOps | Should -Be 4
        }

        It 'samples consecutive intervals' {
            $samples = @(Get-DeviceStats -Name st -Interval 0.1 -Count 3)
            $samples[1].Start | Should -Be $samples[0].Timestamp
            $samples[2].Start | Should -Be $samples[1].Timestamp
        }

        It 'writes one sample per device and interval' {
            New-BlockDevice -Size 64KB -Name st2 | Out-Null
            $samples = @(Get-DeviceStats -Name 'st*' -Interval 0.1 -Count 2)
            $samples.Count | Should -Be 4
            ($samples.Device | Sort-Object) -join ',' | Should -Be 'st,st,st2,st2'
        }

        It 'samples devices piped to it' {
            $samples = @(Get-BlockDevice -Name st | Get-DeviceStats -Interval 0.1 -Count 2)
            $samples.Count | Should -Be 2
            $samples.Device -join ',' | Should -Be 'st,st'
        }

        It 'refuses an -Interval of <Interval>' -ForEach @(
            @{ Interval = 0 }
            @{ Interval = -1 }
        ) {
            { Get-DeviceStats -Name st -Interval $Interval -Count 1 } | Should -Throw -ErrorId 'ParameterArgumentValidationError*'
        }

        It 'samples once a second with -Count alone' {
            $samples = @(Get-DeviceStats -Name st -Count 1)
            $samples.Count | Should -Be 1
            $samples[0].Elapsed.TotalSeconds | Should -BeGreaterThan 0.9
        }

        It 'refuses a -Count of 0' {
            { Get-DeviceStats -Name st -Interval 0.1 -Count 0 } | Should -Throw -ErrorId 'ParameterArgumentValidationError*'
        }
    }

    Context 'views' {
        It 'shows block statistics with the BlockStatistics table view' {
            $null = Read-BlockDevice -Device st -Count 2048 -SectorsPerObject 2048
            $text = Get-DeviceStats -Name st | Format-Table | Out-String -Width 250

            $text | Should -Match 'Device\s+Read\s+Read/s\s+Written\s+Write/s\s+Errors\s+Elapsed'
            $text | Should -Match 'st\s+1\.0 MiB\s'
        }

        It 'uses the table view by default' {
            $text = Get-DeviceStats -Name st | Out-String -Width 250
            $text | Should -Match 'Device\s+Read\s+Read/s'
        }
    }
}

Describe 'Reset-DeviceStats' {
    BeforeEach {
        $first = New-BlockDevice -Size 1MB -Name ra
        $second = New-BlockDevice -Size 1MB -Name rb
        $null = Read-BlockDevice -Device ra -Count 4
        $null = Read-BlockDevice -Device rb -Count 2
        Write-BlockDevice -Device rb -Data (New-RandomBytes 512) -Force
    }

    AfterEach {
        Get-BlockDevice | Close-BlockDevice -Confirm:$false
    }

    It 'sets the counters of a device back to zero and restarts its period' {
        $before = Get-DeviceStats -Name ra
        Start-Sleep -Milliseconds 20
        Reset-DeviceStats -Name ra | Should -BeNullOrEmpty

        $after = Get-DeviceStats -Name ra
        $after.ReadOps | Should -Be 0
        $after.ReadBytes | Should -Be 0
        $after.Errors | Should -Be 0
        $after.Start | Should -BeGreaterThan $before.Start
    }

    It 'resets only the selected devices' {
        Reset-DeviceStats -Name ra
        (Get-DeviceStats -Name rb).ReadOps | Should -Be 2
        (Get-DeviceStats -Name rb).WriteOps | Should -Be 1
    }

    It 'resets every device of the session by default' {
        Reset-DeviceStats
        (Get-DeviceStats).ReadOps -join ',' | Should -Be '0,0'
        (Get-DeviceStats -Name rb).WriteOps | Should -Be 0
    }

    It 'resets only the devices of the family given by -Kind' {
        Reset-DeviceStats -Kind Network
        (Get-DeviceStats -Name ra).ReadOps | Should -Be 4
        Reset-DeviceStats -Kind Block
        (Get-DeviceStats -Name ra).ReadOps | Should -Be 0
    }

    It 'selects devices by name with wildcards' {
        Reset-DeviceStats -Name 'r*'
        (Get-DeviceStats).ReadOps -join ',' | Should -Be '0,0'
    }

    It 'takes devices by -Device: names and objects' {
        Reset-DeviceStats -Device rb
        (Get-DeviceStats -Name rb).ReadOps | Should -Be 0
        Reset-DeviceStats -Device $first
        (Get-DeviceStats -Name ra).ReadOps | Should -Be 0
    }

    It 'takes devices piped from Get-BlockDevice' {
        Get-BlockDevice -Name rb | Reset-DeviceStats
        (Get-DeviceStats -Name rb).ReadOps | Should -Be 0
        (Get-DeviceStats -Name ra).ReadOps | Should -Be 4
    }

    It 'binds the Device property of statistics piped from Get-DeviceStats' {
        Get-DeviceStats -Name ra | Reset-DeviceStats
        (Get-DeviceStats -Name ra).ReadOps | Should -Be 0
        (Get-DeviceStats -Name rb).ReadOps | Should -Be 2
    }

    It 'writes the statistics as they were before the reset with -PassThru' {
        $before = Reset-DeviceStats -Name ra, rb -PassThru

        @($before).Count | Should -Be 2
        $before[0].GetType().FullName | Should -Be 'VirtualDevices.Devices.BlockStatistics'
        $before[0].Device | Should -Be 'ra'
        $before[0].ReadOps | Should -Be 4
        $before[1].Device | Should -Be 'rb'
        $before[1].ReadOps | Should -Be 2
        $before[1].WriteBytes | Should -Be 512
        (Get-DeviceStats).ReadOps -join ',' | Should -Be '0,0'
    }

    It 'changes nothing with -WhatIf' {
        Reset-DeviceStats -WhatIf
        Reset-DeviceStats -Name ra -PassThru -WhatIf | Should -BeNullOrEmpty
        (Get-DeviceStats -Name ra).ReadOps | Should -Be 4
        (Get-DeviceStats -Name rb).ReadOps | Should -Be 2
    }

    It 'has a medium confirmation impact, so it does not ask by default' {
        $attribute = (Get-Command Reset-DeviceStats).ImplementingType.GetCustomAttributes([System.Management.Automation.CmdletAttribute], $false)[0]
        $attribute.SupportsShouldProcess | Should -BeTrue
        $attribute.ConfirmImpact.ToString() | Should -Be 'Medium'
    }

    It 'counts again from zero after a reset' {
        Reset-DeviceStats -Name ra
        $null = Read-BlockDevice -Device ra -Count 1
        (Get-DeviceStats -Name ra).ReadOps | Should -Be 1
    }

    It 'fails with DeviceNotFound for a name that is not open, and resets the others' {
        Reset-DeviceStats -Name nosuch, ra -ErrorAction SilentlyContinue -ErrorVariable failure
        $failure.Count | Should -Be 1
        $failure[0].FullyQualifiedErrorId | Should -BeLike 'DeviceNotFound,*'
        (Get-DeviceStats -Name ra).ReadOps | Should -Be 0

        { Reset-DeviceStats -Name nosuch -ErrorAction Stop } |
            Should -Throw -ErrorId 'DeviceNotFound,VirtualDevices.PowerShell.Commands.Devices.ResetDeviceStatsCommand'
    }
}
