#Requires -Version 7.4
# Pester 5 tests of the block cmdlets: New-, Open-, Get-, Close-BlockDevice, Get-BlockDeviceInfo, Read- and
# Write-BlockDevice. Run with: Invoke-Pester ./tests/Pester (after `dotnet build src/VirtualDevices.PowerShell`).

BeforeDiscovery {
    # Tests that rely on file permissions cannot fail as root, who may open anything.
    $IsRoot = ($IsLinux -or $IsMacOS) -and ((& id -u) -eq '0')
}

BeforeAll {
    . (Join-Path $PSScriptRoot 'Helpers/TestHelpers.ps1')
    Import-Module (Join-Path $PSScriptRoot '../../out/VirtualDevices/VirtualDevices.psd1') -Force
    Get-BlockDevice | Close-BlockDevice -Confirm:$false

    function Get-Slice([byte[]] $Bytes, [int] $Offset, [int] $Length) {
        $slice = [byte[]]::new($Length)
        [Array]::Copy($Bytes, $Offset, $slice, 0, $Length)
        , $slice
    }

    # Writes a file into the test drive and returns its full path.
    function New-TestFile([string] $Name, [byte[]] $Bytes) {
        $path = Join-Path $TestDrive $Name
        [IO.File]::WriteAllBytes($path, $Bytes)
        $path
    }
}

AfterAll {
    Get-BlockDevice | Close-BlockDevice -Confirm:$false
}

Describe 'New-BlockDevice' {
    AfterEach {
        Get-BlockDevice | Close-BlockDevice -Confirm:$false
    }

    It 'creates a RAM disk of -Size bytes, registered under -Name' {
        $device = New-BlockDevice -Size 1MB -Name ram1

        $device.GetType().FullName | Should -Be 'VirtualDevices.Block.MemoryBlockDevice'
        $device.Name | Should -Be 'ram1'
        $device.Driver | Should -Be 'memory'
        $device.IsConnected | Should -BeTrue
        $device.Info.SectorSize | Should -Be 512
        $device.Info.SectorCount | Should -Be 2048
        $device.Info.SizeBytes | Should -Be 1048576
        $device.Info.ReadOnly | Should -BeFalse
        (Get-BlockDevice -Name ram1).Name | Should -Be 'ram1'
    }

    It 'takes the size as the first positional parameter' {
        $device = New-BlockDevice 64KB -Name ram2
        $device.Info.SectorCount | Should -Be 128
    }

    It 'gives a default name made of the driver and a number' {
        $device = New-BlockDevice -Size 64KB
        $device.Name | Should -Match '^mem(ory)?\d+$'
        (Get-BlockDevice -Name $device.Name).Name | Should -Be $device.Name
    }

    It 'creates a RAM disk that reads as zeroes' {
        New-BlockDevice -Size 64KB -Name zero | Out-Null
        $data = Join-BlockData @(Read-BlockDevice -Device zero -SectorsPerObject 128)
        $data.Length | Should -Be 65536
        Get-BytesHash $data | Should -Be (Get-BytesHash ([byte[]]::new(65536)))
    }

    It 'uses -SectorSize <SectorSize>' -ForEach @(
        @{ SectorSize = 512; Count = 2048 }
        @{ SectorSize = 1024; Count = 1024 }
        @{ SectorSize = 2048; Count = 512 }
        @{ SectorSize = 4096; Count = 256 }
    ) {
        $device = New-BlockDevice -Size 1MB -SectorSize $SectorSize -Name "ss$SectorSize"
        $device.Info.SectorSize | Should -Be $SectorSize
        $device.Info.SectorCount | Should -Be $Count
    }

    It 'refuses a sector size outside 512, 1024, 2048, 4096' {
        { New-BlockDevice -Size 1MB -SectorSize 300 } | Should -Throw -ErrorId 'ParameterArgumentValidationError*'
    }

    It 'refuses a name with characters outside [A-Za-z0-9_.-]' {
        { New-BlockDevice -Size 1MB -Name 'bad name' } | Should -Throw -ErrorId 'ParameterArgumentValidationError*'
    }

    It 'creates a sparse image file with -Path and opens it read-write' {
        $path = Join-Path $TestDrive 'new.img'
        $device = New-BlockDevice -Path $path -Size 1MB -Name img1

        $device.GetType().FullName | Should -Be 'VirtualDevices.Block.FileBlockDevice'
        $device.Driver | Should -Be 'file'
        $device.Location | Should -Be $path
        $device.Info.ReadOnly | Should -BeFalse
        $device.Info.SectorCount | Should -Be 2048
        (Get-Item -LiteralPath $path).Length | Should -Be 1048576
        (Get-BlockDevice -Name img1).Location | Should -Be $path
    }

    It 'keeps the image file after the device is closed' {
        $path = Join-Path $TestDrive 'kept.img'
        New-BlockDevice -Path $path -Size 64KB -Name kept | Out-Null
        Close-BlockDevice -Device kept
        (Get-Item -LiteralPath $path).Length | Should -Be 65536
    }

    It 'creates nothing with -WhatIf' {
        $path = Join-Path $TestDrive 'whatif.img'
        New-BlockDevice -Path $path -Size 1MB -Name wi1 -WhatIf | Should -BeNullOrEmpty
        New-BlockDevice -Size 1MB -Name wi2 -WhatIf | Should -BeNullOrEmpty

        Test-Path -LiteralPath $path | Should -BeFalse
        @(Get-BlockDevice).Count | Should -Be 0
    }

    It 'fails with BlockMisaligned for a RAM disk size that is not a whole number of sectors' {
        { New-BlockDevice -Size 1000 -Name odd -ErrorAction Stop } |
            Should -Throw -ErrorId 'BlockMisaligned,VirtualDevices.PowerShell.Commands.Block.NewBlockDeviceCommand'
        @(Get-BlockDevice).Count | Should -Be 0
    }

    It 'fails with BlockMisaligned for an image size that is not a whole number of sectors, creating no file' {
        $path = Join-Path $TestDrive 'odd.img'
        { New-BlockDevice -Path $path -Size 4000 -SectorSize 4096 -ErrorAction Stop } | Should -Throw -ErrorId 'BlockMisaligned,*'
        Test-Path -LiteralPath $path | Should -BeFalse
    }

    It 'never overwrites an existing file: DeviceImageExists' {
        $bytes = New-RandomBytes 4096 -Seed 7
        $path = New-TestFile 'exists.img' $bytes

        { New-BlockDevice -Path $path -Size 1MB -ErrorAction Stop } | Should -Throw -ErrorId 'DeviceImageExists,*'
        Get-FileSha256 $path | Should -Be (Get-BytesHash $bytes)
        @(Get-BlockDevice).Count | Should -Be 0
    }

    It 'fails with DeviceNameInUse for a name already open in the session' {
        New-BlockDevice -Size 64KB -Name dup | Out-Null
        { New-BlockDevice -Size 64KB -Name dup -ErrorAction Stop } | Should -Throw -ErrorId 'DeviceNameInUse,*'
        @(Get-BlockDevice -Name dup).Count | Should -Be 1
    }

    It 'leaves no image file behind when the name is already in use' {
        # The name is checked before the image is created, so a failed New-BlockDevice leaves nothing on disk.
        New-BlockDevice -Size 64KB -Name dupimg | Out-Null
        $path = Join-Path $TestDrive 'dupimg.img'
        New-BlockDevice -Path $path -Size 64KB -Name dupimg -ErrorAction SilentlyContinue -ErrorVariable failure
        $failure.Count | Should -Be 1
        $failure[0].FullyQualifiedErrorId | Should -BeLike 'DeviceNameInUse,*'
        Test-Path -LiteralPath $path | Should -BeFalse
    }

    It 'writes a non-terminating error' {
        New-BlockDevice -Size 1000 -ErrorAction SilentlyContinue -ErrorVariable failure | Should -BeNullOrEmpty
        $failure.Count | Should -Be 1
        $failure[0].Exception.ErrorId | Should -Be 'BlockMisaligned'
        $failure[0].CategoryInfo.Category.ToString() | Should -Be 'InvalidArgument'
    }
}

Describe 'Open-BlockDevice' {
    BeforeAll {
        $bytes = New-RandomBytes 1MB -Seed 11
        $image = New-TestFile 'open.img' $bytes
    }

    AfterEach {
        Get-BlockDevice | Close-BlockDevice -Confirm:$false
    }

    It 'opens an image read-write under -Name and registers it' {
        $device = Open-BlockDevice -Path $image -Name disk

        $device.GetType().FullName | Should -Be 'VirtualDevices.Block.FileBlockDevice'
        $device.Name | Should -Be 'disk'
        $device.Driver | Should -Be 'file'
        $device.Location | Should -Be $image
        $device.IsConnected | Should -BeTrue
        $device.IsBlockSpecial | Should -BeFalse
        $device.Info.ReadOnly | Should -BeFalse
        $device.Info.SectorSize | Should -Be 512
        $device.Info.SectorCount | Should -Be 2048
        (Get-BlockDevice -Name disk).Location | Should -Be $image
    }

    It 'gives a default name such as file0' {
        $device = Open-BlockDevice -Path $image
        $device.Name | Should -Match '^file\d+$'
    }

    It 'binds the FullName of piped files to -Path' {
        Get-Item -LiteralPath $image | Open-BlockDevice -Name piped | Out-Null
        (Get-BlockDevice -Name piped).Location | Should -Be $image
    }

    It 'opens read-only with -ReadOnly, and refuses writes with BlockReadOnly' {
        $device = Open-BlockDevice -Path $image -ReadOnly -Name ro
        $device.Info.ReadOnly | Should -BeTrue

        { Write-BlockDevice -Device ro -Data ([byte[]]::new(512)) -Force -ErrorAction Stop } |
            Should -Throw -ErrorId 'BlockReadOnly,VirtualDevices.PowerShell.Commands.Block.WriteBlockDeviceCommand'
        Get-FileSha256 $image | Should -Be (Get-BytesHash $bytes)
    }

    It 'uses -SectorSize' {
        $device = Open-BlockDevice -Path $image -SectorSize 4096 -Name d4k
        $device.Info.SectorSize | Should -Be 4096
        $device.Info.SectorCount | Should -Be 256
    }

    It 'leaves out trailing bytes that do not fill a sector' {
        $path = New-TestFile 'short.img' (New-RandomBytes 1300)
        $device = Open-BlockDevice -Path $path -Name short
        $device.Info.SectorCount | Should -Be 2
    }

    It 'fails with DeviceNotFound for a missing file' {
        $path = Join-Path $TestDrive 'missing.img'
        { Open-BlockDevice -Path $path -ErrorAction Stop } |
            Should -Throw -ErrorId 'DeviceNotFound,VirtualDevices.PowerShell.Commands.Block.OpenBlockDeviceCommand'
        @(Get-BlockDevice).Count | Should -Be 0
    }

    It 'fails with DeviceNotBlockCapable for a directory' {
        { Open-BlockDevice -Path $TestDrive -ErrorAction Stop } | Should -Throw -ErrorId 'DeviceNotBlockCapable,*'
    }

    It 'fails with DeviceNotBlockCapable for a directory opened -ReadOnly' {
        { Open-BlockDevice -Path $TestDrive -ReadOnly -ErrorAction Stop } | Should -Throw -ErrorId 'DeviceNotBlockCapable,*'
        @(Get-BlockDevice).Count | Should -Be 0
    }

    It 'fails with DeviceAccessDenied for a file it may not write, and opens it -ReadOnly' -Skip:$IsRoot {
        $path = New-TestFile 'locked.img' (New-RandomBytes 4096)
        [IO.File]::SetUnixFileMode($path, [IO.UnixFileMode]::UserRead)

        { Open-BlockDevice -Path $path -ErrorAction Stop } | Should -Throw -ErrorId 'DeviceAccessDenied,*'
        (Open-BlockDevice -Path $path -ReadOnly -Name locked).Info.ReadOnly | Should -BeTrue
    }

    It 'fails with DeviceNameInUse for a name already open, keeping the first device' {
        Open-BlockDevice -Path $image -Name same | Out-Null
        { Open-BlockDevice -Path $image -Name same -ErrorAction Stop } | Should -Throw -ErrorId 'DeviceNameInUse,*'
        @(Get-BlockDevice -Name same).Count | Should -Be 1
        (Get-BlockDevice -Name same).IsConnected | Should -BeTrue
    }

    It 'shows a device with the BlockDevice table view' {
        Open-BlockDevice -Path $image -Name viewed | Out-Null
        $text = Get-BlockDevice -Name viewed | Format-Table | Out-String -Width 250
        $text | Should -Match 'Name\s+Driver\s+Size\s+Sector\s+ReadOnly\s+Connected\s+Location'
        $text | Should -Match 'viewed\s+file\s+1[.,]0 MiB\s+512\s+False\s+True\s+'
        $text | Should -Match ([regex]::Escape($image))
    }
}

Describe 'Get-BlockDevice' {
    BeforeAll {
        Get-BlockDevice | Close-BlockDevice -Confirm:$false
    }

    BeforeEach {
        New-BlockDevice -Size 64KB -Name gba | Out-Null
        New-BlockDevice -Size 64KB -Name gbb | Out-Null
        New-BlockDevice -Size 64KB -Name other | Out-Null
    }

    AfterEach {
        Get-BlockDevice | Close-BlockDevice -Confirm:$false
    }

    It 'lists every block device of the session in the order they were opened' {
        (Get-BlockDevice).Name -join ',' | Should -Be 'gba,gbb,other'
    }

    It 'selects devices by name, with wildcards' {
        (Get-BlockDevice -Name 'gb*').Name -join ',' | Should -Be 'gba,gbb'
        (Get-BlockDevice -Name gbb, other).Name -join ',' | Should -Be 'gbb,other'
    }

    It 'ignores the case of names' {
        # -BeExactly: Should -Be ignores case, so it would not show which name came back.
        (Get-BlockDevice -Name 'GBA').Name | Should -BeExactly 'gba'
    }

    It 'binds piped strings to -Name' {
        ('gbb', 'gba' | Get-BlockDevice).Name -join ',' | Should -Be 'gbb,gba'
    }

    It 'writes nothing and no error for a wildcard that matches nothing' {
        @(Get-BlockDevice -Name 'zz*' -ErrorAction Stop).Count | Should -Be 0
    }

    It 'fails with DeviceNotFound for a name that is not open' {
        { Get-BlockDevice -Name nosuch -ErrorAction Stop } |
            Should -Throw -ErrorId 'DeviceNotFound,VirtualDevices.PowerShell.Commands.Block.GetBlockDeviceCommand'
    }

    It 'still returns the other matches after a DeviceNotFound error' {
        $found = Get-BlockDevice -Name nosuch, gba -ErrorAction SilentlyContinue -ErrorVariable failure
        $found.Name | Should -Be 'gba'
        $failure.Count | Should -Be 1
        $failure[0].Exception.ErrorId | Should -Be 'DeviceNotFound'
    }

    It 'no longer lists a closed device' {
        Close-BlockDevice -Device gbb
        (Get-BlockDevice).Name -join ',' | Should -Be 'gba,other'
    }
}

Describe 'Close-BlockDevice' {
    AfterEach {
        Get-BlockDevice | Close-BlockDevice -Confirm:$false
    }

    It 'closes a device given by name' {
        $device = New-BlockDevice -Size 64KB -Name c1
        Close-BlockDevice -Device c1 | Should -BeNullOrEmpty

        $device.IsConnected | Should -BeFalse
        @(Get-BlockDevice).Count | Should -Be 0
    }

    It 'closes a device given by object, in the first position' {
        $device = New-BlockDevice -Size 64KB -Name c2
        Close-BlockDevice $device
        $device.IsConnected | Should -BeFalse
    }

    It 'closes several devices by name' {
        New-BlockDevice -Size 64KB -Name c3 | Out-Null
        New-BlockDevice -Size 64KB -Name c4 | Out-Null
        New-BlockDevice -Size 64KB -Name c5 | Out-Null
        Close-BlockDevice -Device c3, c5
        (Get-BlockDevice).Name -join ',' | Should -Be 'c4'
    }

    It 'closes the devices piped from Get-BlockDevice' {
        New-BlockDevice -Size 64KB -Name p1 | Out-Null
        Open-BlockDevice -Path (New-TestFile 'close.img' (New-RandomBytes 65536)) -Name p2 | Out-Null
        Get-BlockDevice | Close-BlockDevice
        @(Get-BlockDevice).Count | Should -Be 0
    }

    It 'closes nothing with -WhatIf' {
        $device = New-BlockDevice -Size 64KB -Name kept
        Close-BlockDevice -Device kept -WhatIf
        $device.IsConnected | Should -BeTrue
        (Get-BlockDevice -Name kept).Name | Should -Be 'kept'
    }

    It 'does nothing for a device that is already closed' {
        $device = New-BlockDevice -Size 64KB -Name twice
        Close-BlockDevice -Device $device
        { Close-BlockDevice -Device $device -ErrorAction Stop } | Should -Not -Throw
    }

    It 'refuses a name that is not open in the session' {
        { Close-BlockDevice -Device nosuch -ErrorAction Stop } | Should -Throw -ExpectedMessage "*No device named 'nosuch'*"
    }

    It 'makes later use of the device object fail with DeviceDisconnected' {
        $device = New-BlockDevice -Size 64KB -Name gone
        Close-BlockDevice -Device $device

        { Read-BlockDevice -Device $device -Count 1 -ErrorAction Stop } |
            Should -Throw -ErrorId 'DeviceDisconnected,VirtualDevices.PowerShell.Commands.Block.ReadBlockDeviceCommand'
        { Write-BlockDevice -Device $device -Data ([byte[]]::new(512)) -Force -ErrorAction Stop } |
            Should -Throw -ErrorId 'DeviceDisconnected,*'
    }

    It 'frees the name for a new device' {
        New-BlockDevice -Size 64KB -Name reuse | Out-Null
        Close-BlockDevice -Device reuse
        { New-BlockDevice -Size 64KB -Name reuse -ErrorAction Stop } | Should -Not -Throw
    }

    It 'keeps what was written to an image' {
        $path = New-TestFile 'persist.img' ([byte[]]::new(65536))
        $data = New-RandomBytes 1024 -Seed 3
        Open-BlockDevice -Path $path -Name persist | Out-Null
        Write-BlockDevice -Device persist -Data $data -Sector 8 -Force
        Close-BlockDevice -Device persist

        Get-BytesHash (Get-Slice ([IO.File]::ReadAllBytes($path)) 4096 1024) | Should -Be (Get-BytesHash $data)
    }
}

Describe 'Get-BlockDeviceInfo' {
    BeforeAll {
        $image = New-TestFile 'info.img' (New-RandomBytes 1MB -Seed 5)
    }

    AfterEach {
        Get-BlockDevice | Close-BlockDevice -Confirm:$false
    }

    It 'describes an image given by -Path, leaving nothing open' {
        $info = Get-BlockDeviceInfo -Path $image

        $info.GetType().FullName | Should -Be 'VirtualDevices.Block.BlockDeviceDetails'
        $info.Driver | Should -Be 'file'
        $info.Location | Should -Be $image
        $info.SectorSize | Should -Be 512
        $info.SectorCount | Should -Be 2048
        $info.SizeBytes | Should -Be 1048576
        $info.CanFlush | Should -BeTrue
        $info.CanFua | Should -BeTrue
        @(Get-BlockDevice).Count | Should -Be 0
    }

    It 'takes the path as the first positional parameter' {
        (Get-BlockDeviceInfo $image).SectorCount | Should -Be 2048
    }

    It 'describes several paths, and files piped from Get-ChildItem' {
        $folder = (New-Item -ItemType Directory -Path (Join-Path $TestDrive 'images')).FullName
        [IO.File]::WriteAllBytes((Join-Path $folder 'a.img'), [byte[]]::new(65536))
        [IO.File]::WriteAllBytes((Join-Path $folder 'b.img'), [byte[]]::new(131072))

        $piped = Get-ChildItem -LiteralPath $folder -Filter '*.img' | Sort-Object Name | Get-BlockDeviceInfo
        $piped.SectorCount -join ',' | Should -Be '128,256'

        $listed = Get-BlockDeviceInfo -Path (Join-Path $folder 'a.img'), (Join-Path $folder 'b.img')
        @($listed).Count | Should -Be 2
    }

    It 'leaves out trailing bytes that do not fill a sector' {
        $path = New-TestFile 'trailing.img' (New-RandomBytes 1000)
        (Get-BlockDeviceInfo -Path $path).SectorCount | Should -Be 1
    }

    It 'describes a device given by name, by object, or piped' {
        $device = New-BlockDevice -Size 1MB -SectorSize 4096 -Name info4k

        $byName = Get-BlockDeviceInfo -Device info4k
        $byName.Device | Should -Be 'info4k'
        $byName.Driver | Should -Be 'memory'
        $byName.SectorSize | Should -Be 4096
        $byName.SectorCount | Should -Be 256
        $byName.ReadOnly | Should -BeFalse
        $byName.IsConnected | Should -BeTrue
        $byName.CanTrim | Should -BeTrue
        $byName.CanWriteZeroes | Should -BeTrue
        $byName.MaximumTransferSize | Should -Be 0

        (Get-BlockDeviceInfo -Device $device).Device | Should -Be 'info4k'
        (Get-BlockDevice -Name info4k | Get-BlockDeviceInfo).Device | Should -Be 'info4k'
    }

    It 'reports a device opened -ReadOnly as read-only' {
        Open-BlockDevice -Path $image -ReadOnly -Name roinfo | Out-Null
        (Get-BlockDeviceInfo -Device roinfo).ReadOnly | Should -BeTrue
    }

    It 'describes a writable image as writable, under the file name, without opening a session device' {
        $info = Get-BlockDeviceInfo -Path $image
        $info.ReadOnly | Should -BeFalse
        $info.Device | Should -Be (Split-Path -Leaf $image)
        @(Get-BlockDevice).Count | Should -Be 0
    }

    It 'takes a bare device name in the first position when no such file exists' {
        New-BlockDevice -Size 64KB -Name barename | Out-Null
        Push-Location $TestDrive
        try {
            (Get-BlockDeviceInfo barename).Device | Should -Be 'barename'
            (Read-BlockDevice barename -Count 1).Device | Should -Be 'barename'
        }
        finally {
            Pop-Location
        }
    }

    It 'finds devices by name whatever the case' {
        New-BlockDevice -Size 64KB -Name MixedCase | Out-Null
        (Get-BlockDeviceInfo -Device mixedcase).Device | Should -BeExactly 'MixedCase'
        { New-BlockDevice -Size 64KB -Name MIXEDCASE -ErrorAction Stop } | Should -Throw -ErrorId 'DeviceNameInUse,*'
    }

    It 'fails with DeviceNotFound for a missing file' {
        { Get-BlockDeviceInfo -Path (Join-Path $TestDrive 'missing.img') -ErrorAction Stop } |
            Should -Throw -ErrorId 'DeviceNotFound,VirtualDevices.PowerShell.Commands.Block.GetBlockDeviceInfoCommand'
    }

    It 'goes on with the next path after an error' {
        $results = Get-BlockDeviceInfo -Path (Join-Path $TestDrive 'missing.img'), $image -ErrorAction SilentlyContinue -ErrorVariable failure
        @($results).Count | Should -Be 1
        $failure.Count | Should -Be 1
        $failure[0].Exception.ErrorId | Should -Be 'DeviceNotFound'
    }

    It 'refuses a directory with DeviceNotBlockCapable' {
        { Get-BlockDeviceInfo -Path $TestDrive -ErrorAction Stop } | Should -Throw -ErrorId 'DeviceNotBlockCapable,*'
    }

    It 'refuses a device name that is not open in the session' {
        { Get-BlockDeviceInfo -Device nosuch -ErrorAction Stop } | Should -Throw -ExpectedMessage "*No device named 'nosuch'*"
    }

    It 'shows the BlockDeviceDetails list view' {
        New-BlockDevice -Size 1MB -Name listed | Out-Null
        $text = Get-BlockDeviceInfo -Device listed | Out-String -Width 250
        $text | Should -Match 'Device\s*:\s*listed'
        $text | Should -Match 'Size\s*:\s*1[.,]0 MiB \(1\D?048\D?576 bytes\)'
        $text | Should -Match 'SectorCount\s*:\s*2048'
        $text | Should -Match 'MaximumTransferSize\s*:\s*unlimited'
    }
}

Describe 'Read-BlockDevice' {
    BeforeAll {
        $bytes = New-RandomBytes 1MB -Seed 21
        $image = New-TestFile 'read.img' $bytes
        $imageHash = Get-BytesHash $bytes
    }

    AfterEach {
        Get-BlockDevice | Close-BlockDevice -Confirm:$false
    }

    Context 'objects' {
        It 'reads the whole device by default, one sector per object' {
            $blocks = Read-BlockDevice -Path $image
            $blocks.Count | Should -Be 2048
            $blocks[0].GetType().FullName | Should -Be 'VirtualDevices.Block.BlockData'
            $blocks[2047].Sector | Should -Be 2047
            Get-BytesHash (Join-BlockData $blocks) | Should -Be $imageHash
            @(Get-BlockDevice).Count | Should -Be 0
        }

        It 'reads -Count sectors from -Sector' {
            $blocks = Read-BlockDevice -Path $image -Sector 10 -Count 3
            ($blocks | ForEach-Object Sector) -join ',' | Should -Be '10,11,12'
            ($blocks | ForEach-Object Length) -join ',' | Should -Be '512,512,512'
            Get-BytesHash (Join-BlockData $blocks) | Should -Be (Get-BytesHash (Get-Slice $bytes 5120 1536))
        }

        It 'describes each object: Device, Sector, SectorSize, Offset, Length, Count, Data' {
            Open-BlockDevice -Path $image -Name src | Out-Null
            $block = Read-BlockDevice -Device src -Sector 4 -Count 2 -SectorsPerObject 2

            $block.Device | Should -Be 'src'
            $block.Sector | Should -Be 4
            $block.SectorSize | Should -Be 512
            $block.Offset | Should -Be 2048
            $block.Length | Should -Be 1024
            $block.Count | Should -Be 2
            $block.Data.GetType().FullName | Should -Be 'System.Byte[]'
            Get-BytesHash $block.Data | Should -Be (Get-BytesHash (Get-Slice $bytes 2048 1024))
        }

        It 'takes the range in bytes with -Offset and -Length' {
            $block = Read-BlockDevice -Path $image -Offset 5120 -Length 1024 -SectorsPerObject 2
            $block.Sector | Should -Be 10
            $block.Length | Should -Be 1024
            Get-BytesHash $block.Data | Should -Be (Get-BytesHash (Get-Slice $bytes 5120 1024))
        }

        It 'reads from -Offset to the end without -Length' {
            $blocks = Read-BlockDevice -Path $image -Offset (1MB - 2048)
            ($blocks | ForEach-Object Sector) -join ',' | Should -Be '2044,2045,2046,2047'
        }

        It 'groups -SectorsPerObject sectors, the last object holding the rest' {
            $blocks = Read-BlockDevice -Path $image -Count 5 -SectorsPerObject 2
            ($blocks | ForEach-Object Count) -join ',' | Should -Be '2,2,1'
            ($blocks | ForEach-Object Sector) -join ',' | Should -Be '0,2,4'
        }

        It 'reads nothing with -Count 0' {
            @(Read-BlockDevice -Path $image -Count 0).Count | Should -Be 0
        }

        It 'reads the last sector' {
            $block = Read-BlockDevice -Path $image -Sector 2047 -Count 1
            Get-BytesHash $block.Data | Should -Be (Get-BytesHash (Get-Slice $bytes (1MB - 512) 512))
        }

        It 'reads a device given by name, by object, or piped, and leaves it open' {
            $device = Open-BlockDevice -Path $image -Name src

            (Read-BlockDevice -Device src -Sector 1 -Count 1).Sector | Should -Be 1
            (Read-BlockDevice -Device $device -Sector 2 -Count 1).Sector | Should -Be 2
            (Get-BlockDevice -Name src | Read-BlockDevice -Sector 3 -Count 1).Sector | Should -Be 3
            $device.IsConnected | Should -BeTrue
        }

        It 'binds the FullName of piped files to -Path' {
            $block = Get-Item -LiteralPath $image | Read-BlockDevice -Count 1
            Get-BytesHash $block.Data | Should -Be (Get-BytesHash (Get-Slice $bytes 0 512))
        }

        It 'stops early when Select-Object -First has what it needs' {
            @(Read-BlockDevice -Path $image | Select-Object -First 3).Count | Should -Be 3

            $device = Open-BlockDevice -Path $image -Name early
            (Read-BlockDevice -Device early | Select-Object -First 2 | ForEach-Object Sector) -join ',' | Should -Be '0,1'
            $device.IsConnected | Should -BeTrue
            (Read-BlockDevice -Device early -Sector 5 -Count 1).Sector | Should -Be 5
        }
    }

    Context 'views' {
        It 'shows BlockData as a header line and a hex dump' {
            New-BlockDevice -Size 64KB -Name hex | Out-Null
            $sector = [byte[]]::new(512)
            [Text.Encoding]::ASCII.GetBytes('Hello').CopyTo($sector, 0)
            $sector[510] = 0x55
            $sector[511] = 0xAA
            Write-BlockDevice -Device hex -Data $sector -Force

            $text = Read-BlockDevice -Device hex -Count 1 | Out-String -Width 250

            $text | Should -Match 'Device: hex  Sector: 0  Offset: 0  Length: 512'
            $text | Should -Match '00000000  48 65 6c 6c 6f 00 00 00  00 00 00 00 00 00 00 00  \|Hello\.{11}\|'
            $text | Should -Match '000001f0  (00 ){8} (00 ){6}55 aa  \|\.{14}U\.\|'
        }

        It 'shows the offsets of a later sector in the hex dump' {
            $text = Read-BlockDevice -Path $image -Sector 2 -Count 1 | Out-String -Width 250
            $text | Should -Match 'Sector: 2  Offset: 1024  Length: 512'
            $text | Should -Match '(?m)^00000400  '
        }
    }

    Context '-OutFile' {
        It 'copies the device into a file with the same checksum, writing no objects' {
            $out = Join-Path $TestDrive 'copy.raw'
            Read-BlockDevice -Path $image -OutFile $out | Should -BeNullOrEmpty

            (Get-Item -LiteralPath $out).Length | Should -Be 1048576
            Get-FileSha256 $out | Should -Be (Get-FileSha256 $image)
        }

        It 'copies a range from a device of the session' {
            Open-BlockDevice -Path $image -Name src | Out-Null
            $out = Join-Path $TestDrive 'range.raw'
            Read-BlockDevice -Device src -Sector 8 -Count 8 -OutFile $out

            (Get-Item -LiteralPath $out).Length | Should -Be 4096
            Get-FileSha256 $out | Should -Be (Get-BytesHash (Get-Slice $bytes 4096 4096))
        }

        It 'writes a BlockTransferResult with -PassThru' {
            Open-BlockDevice -Path $image -Name src | Out-Null
            $out = Join-Path $TestDrive 'passthru.raw'
            $result = Read-BlockDevice -Device src -Sector 16 -OutFile $out -PassThru

            $result.GetType().FullName | Should -Be 'VirtualDevices.Block.BlockTransferResult'
            $result.Device | Should -Be 'src'
            $result.Sector | Should -Be 16
            $result.Bytes | Should -Be (1MB - 16 * 512)
            $result.Elapsed | Should -BeOfType [timespan]
            $result.BytesPerSecond | Should -BeGreaterOrEqual 0

            $text = $result | Format-Table | Out-String -Width 250
            $text | Should -Match 'Device\s+Sector\s+Transferred\s+Seconds\s+Rate'
        }

        It 'replaces an existing file' {
            $out = New-TestFile 'replace.raw' (New-RandomBytes 5000)
            Read-BlockDevice -Path $image -Count 1 -OutFile $out
            Get-FileSha256 $out | Should -Be (Get-BytesHash (Get-Slice $bytes 0 512))
        }

        It 'keeps an existing file with -NoClobber' {
            $existing = New-RandomBytes 5000 -Seed 9
            $out = New-TestFile 'noclobber.raw' $existing
            { Read-BlockDevice -Path $image -Count 1 -OutFile $out -NoClobber -ErrorAction Stop } | Should -Throw -ErrorId 'OutFileExists,*'
            Get-FileSha256 $out | Should -Be (Get-BytesHash $existing)
        }

        It 'deletes the incomplete file when the copy fails' {
            $device = New-BlockDevice -Size 64KB -Name vanish
            Close-BlockDevice -Device $device
            $out = Join-Path $TestDrive 'vanish.raw'

            { Read-BlockDevice -Device $device -OutFile $out -ErrorAction Stop } | Should -Throw -ErrorId 'DeviceDisconnected,*'
            Test-Path -LiteralPath $out | Should -BeFalse
        }

        It 'round-trips through Write-BlockDevice -InFile' {
            $out = Join-Path $TestDrive 'roundtrip.raw'
            $target = New-TestFile 'roundtrip.img' ([byte[]]::new(1MB))
            Read-BlockDevice -Path $image -OutFile $out
            Write-BlockDevice -Path $target -InFile $out -Force

            Get-FileSha256 $target | Should -Be $imageHash
        }
    }

    Context 'errors' {
        It 'fails with BlockOutOfRange for <Case>' -ForEach @(
            @{ Case = 'a count past the end'; Arguments = @{ Sector = 2047; Count = 2 } }
            @{ Case = 'a sector at the end'; Arguments = @{ Sector = 2048; Count = 1 } }
            @{ Case = 'a sector past the end'; Arguments = @{ Sector = 4096 } }
            @{ Case = 'a length past the end'; Arguments = @{ Offset = 1MB - 512; Length = 1024 } }
        ) {
            { Read-BlockDevice -Path $image @Arguments -ErrorAction Stop } |
                Should -Throw -ErrorId 'BlockOutOfRange,VirtualDevices.PowerShell.Commands.Block.ReadBlockDeviceCommand'
        }

        It 'fails with BlockMisaligned for <Case>' -ForEach @(
            @{ Case = 'an offset'; Arguments = @{ Offset = 100 } }
            @{ Case = 'a length'; Arguments = @{ Offset = 0; Length = 1000 } }
        ) {
            { Read-BlockDevice -Path $image @Arguments -ErrorAction Stop } | Should -Throw -ErrorId 'BlockMisaligned,*'
        }

        It 'fails with InvalidArgument when -Sector and -Offset are combined' {
            { Read-BlockDevice -Path $image -Sector 1 -Offset 512 -ErrorAction Stop } | Should -Throw -ErrorId 'InvalidArgument,*'
        }

        It 'fails with DeviceNotFound for a missing file' {
            { Read-BlockDevice -Path (Join-Path $TestDrive 'missing.img') -ErrorAction Stop } | Should -Throw -ErrorId 'DeviceNotFound,*'
        }

        It 'refuses negative sectors and a -SectorsPerObject of 0 when binding' {
            { Read-BlockDevice -Path $image -Sector -1 } | Should -Throw -ErrorId 'ParameterArgumentValidationError*'
            { Read-BlockDevice -Path $image -SectorsPerObject 0 } | Should -Throw -ErrorId 'ParameterArgumentValidationError*'
        }

        It 'writes non-terminating errors with the id, category and target' {
            $blocks = Read-BlockDevice -Path $image -Sector 4096 -ErrorAction SilentlyContinue -ErrorVariable failure
            @($blocks).Count | Should -Be 0
            $failure.Count | Should -Be 1
            $failure[0].FullyQualifiedErrorId | Should -BeLike 'BlockOutOfRange,*'
            $failure[0].Exception.ErrorId | Should -Be 'BlockOutOfRange'
            $failure[0].CategoryInfo.Category.ToString() | Should -Be 'InvalidArgument'
            $failure[0].TargetObject | Should -Be $image
        }

        It 'reads nothing on a range error, even with -OutFile' {
            $out = Join-Path $TestDrive 'never.raw'
            Read-BlockDevice -Path $image -Sector 2048 -Count 1 -OutFile $out -ErrorAction SilentlyContinue -ErrorVariable failure
            # The command must have failed on the range (not on something else) for the missing file to mean anything.
            $failure.Count | Should -Be 1
            $failure[0].FullyQualifiedErrorId | Should -BeLike 'BlockOutOfRange,*'
            Test-Path -LiteralPath $out | Should -BeFalse
        }
    }
}

Describe 'Write-BlockDevice' {
    BeforeAll {
        $source = New-RandomBytes 1MB -Seed 31
        $sourceImage = New-TestFile 'source.img' $source
        $sourceHash = Get-BytesHash $source
        $zeroHash = Get-BytesHash ([byte[]]::new(1MB))
    }

    BeforeEach {
        $target = New-TestFile 'target.img' ([byte[]]::new(1MB))
    }

    AfterEach {
        Get-BlockDevice | Close-BlockDevice -Confirm:$false
    }

    Context 'writing' {
        It 'writes -Data at -Sector of an image given by -Path' {
            $data = New-RandomBytes 1024 -Seed 2
            Write-BlockDevice -Path $target -Data $data -Sector 4 -Force | Should -BeNullOrEmpty

            $file = [IO.File]::ReadAllBytes($target)
            Get-BytesHash (Get-Slice $file 2048 1024) | Should -Be (Get-BytesHash $data)
            Get-BytesHash (Get-Slice $file 0 2048) | Should -Be (Get-BytesHash ([byte[]]::new(2048)))
            @(Get-BlockDevice).Count | Should -Be 0
        }

        It 'writes at sector 0 by default' {
            $data = New-RandomBytes 512 -Seed 4
            Write-BlockDevice -Path $target -Data $data -Force
            Get-BytesHash (Get-Slice ([IO.File]::ReadAllBytes($target)) 0 512) | Should -Be (Get-BytesHash $data)
        }

        It 'writes to a device of the session given by name or object' {
            $device = New-BlockDevice -Size 1MB -Name w
            $first = New-RandomBytes 512 -Seed 5
            $second = New-RandomBytes 512 -Seed 6
            Write-BlockDevice -Device w -Data $first -Sector 10 -Force
            Write-BlockDevice -Device $device -Data $second -Sector 11 -Force

            Get-BytesHash (Read-BlockDevice -Device w -Sector 10 -Count 1).Data | Should -Be (Get-BytesHash $first)
            Get-BytesHash (Read-BlockDevice -Device w -Sector 11 -Count 1).Data | Should -Be (Get-BytesHash $second)
            $device.IsConnected | Should -BeTrue
        }

        It 'writes at the byte offset given by -Offset' {
            New-BlockDevice -Size 1MB -Name woff | Out-Null
            $data = New-RandomBytes 1024 -Seed 8
            Write-BlockDevice -Device woff -Offset 4096 -Data $data -Force -ErrorAction Stop

            $block = Read-BlockDevice -Device woff -Sector 8 -Count 2 -SectorsPerObject 2
            Get-BytesHash $block.Data | Should -Be (Get-BytesHash $data)
        }

        It 'writes the whole content of -InFile' {
            Write-BlockDevice -Path $target -InFile $sourceImage -Force
            Get-FileSha256 $target | Should -Be $sourceHash
        }

        It 'writes -InFile from -Sector on a device of the session' {
            $chunk = New-TestFile 'chunk.bin' (New-RandomBytes 4096 -Seed 12)
            New-BlockDevice -Size 1MB -Name win | Out-Null
            Write-BlockDevice -Device win -InFile $chunk -Sector 100 -Force

            Get-BytesHash (Read-BlockDevice -Device win -Sector 100 -Count 8 -SectorsPerObject 8).Data | Should -Be (Get-FileSha256 $chunk)
        }

        It 'writes a BlockTransferResult with -PassThru' {
            New-BlockDevice -Size 1MB -Name wp | Out-Null
            $result = Write-BlockDevice -Device wp -Data ([byte[]]::new(2048)) -Sector 6 -Force -PassThru

            $result.GetType().FullName | Should -Be 'VirtualDevices.Block.BlockTransferResult'
            $result.Device | Should -Be 'wp'
            $result.Sector | Should -Be 6
            $result.Bytes | Should -Be 2048
        }

        It 'writes with -Fua' {
            $data = New-RandomBytes 512 -Seed 13
            Write-BlockDevice -Path $target -Data $data -Sector 1 -Fua -Force
            Get-BytesHash (Get-Slice ([IO.File]::ReadAllBytes($target)) 512 512) | Should -Be (Get-BytesHash $data)
        }

        It 'writes with -Confirm:$false instead of -Force' {
            $data = New-RandomBytes 512 -Seed 14
            Write-BlockDevice -Path $target -Data $data -Confirm:$false
            Get-BytesHash (Get-Slice ([IO.File]::ReadAllBytes($target)) 0 512) | Should -Be (Get-BytesHash $data)
        }
    }

    Context 'pipeline' {
        It 'copies an image sector by sector: Read-BlockDevice -Path a | Write-BlockDevice -Path b -Force' {
            $small = New-RandomBytes 64KB -Seed 15
            $a = New-TestFile 'a.img' $small
            $b = New-TestFile 'b.img' ([byte[]]::new(64KB))

            Read-BlockDevice -Path $a | Write-BlockDevice -Path $b -Force

            Get-FileSha256 $b | Should -Be (Get-FileSha256 $a)
        }

        It 'copies a 1 MiB image in larger objects' {
            Read-BlockDevice -Path $sourceImage -SectorsPerObject 256 | Write-BlockDevice -Path $target -Force
            Get-FileSha256 $target | Should -Be $sourceHash
        }

        It 'copies into a device of the session' {
            New-BlockDevice -Size 1MB -Name dst | Out-Null
            Read-BlockDevice -Path $sourceImage -SectorsPerObject 512 | Write-BlockDevice -Device dst -Force
            Read-BlockDevice -Device dst -OutFile $target
            Get-FileSha256 $target | Should -Be $sourceHash
        }

        It 'writes each piped object at its own sector' {
            Read-BlockDevice -Path $sourceImage -Sector 100 -Count 4 | Write-BlockDevice -Path $target -Force

            $file = [IO.File]::ReadAllBytes($target)
            Get-BytesHash (Get-Slice $file (100 * 512) 2048) | Should -Be (Get-BytesHash (Get-Slice $source (100 * 512) 2048))
            Get-BytesHash (Get-Slice $file 0 (100 * 512)) | Should -Be (Get-BytesHash ([byte[]]::new(100 * 512)))
        }

        It 'writes one BlockTransferResult per piped object with -PassThru' {
            $results = Read-BlockDevice -Path $sourceImage -Count 6 -SectorsPerObject 2 | Write-BlockDevice -Path $target -Force -PassThru
            ($results | ForEach-Object Sector) -join ',' | Should -Be '0,2,4'
            ($results | ForEach-Object Bytes) -join ',' | Should -Be '1024,1024,1024'
        }

        It 'does not bind a byte array piped on its own (PowerShell unrolls it): pass -Data' {
            $data = New-RandomBytes 512
            { $data | Write-BlockDevice -Path $target -Force -ErrorAction Stop } | Should -Throw -ErrorId 'InputObjectNotBound*'
            Get-FileSha256 $target | Should -Be $zeroHash
        }
    }

    Context 'ShouldProcess' {
        It 'has a high confirmation impact, so it asks unless -Force or -Confirm:$false is given' {
            $attribute = (Get-Command Write-BlockDevice).ImplementingType.GetCustomAttributes([System.Management.Automation.CmdletAttribute], $false)[0]
            $attribute.SupportsShouldProcess | Should -BeTrue
            $attribute.ConfirmImpact.ToString() | Should -Be 'High'
        }

        It 'writes nothing with -WhatIf' {
            New-BlockDevice -Size 1MB -Name wif | Out-Null
            Write-BlockDevice -Path $target -Data (New-RandomBytes 1024) -WhatIf | Should -BeNullOrEmpty
            Write-BlockDevice -Path $target -InFile $sourceImage -WhatIf
            Write-BlockDevice -Device wif -Data (New-RandomBytes 1024) -WhatIf

            Get-FileSha256 $target | Should -Be $zeroHash
            (Read-BlockDevice -Device wif -Count 2 -SectorsPerObject 2).Data | Where-Object { $_ -ne 0 } | Should -BeNullOrEmpty
            (Get-DeviceStats -Name wif).WriteOps | Should -Be 0
        }

        It 'writes nothing with -WhatIf even with -Force' {
            Write-BlockDevice -Path $target -Data (New-RandomBytes 1024) -Force -WhatIf -PassThru | Should -BeNullOrEmpty
            Get-FileSha256 $target | Should -Be $zeroHash
        }

        It 'writes nothing with -WhatIf for piped objects' {
            Read-BlockDevice -Path $sourceImage -Count 4 | Write-BlockDevice -Path $target -Force -WhatIf
            Get-FileSha256 $target | Should -Be $zeroHash
        }

        It 'writes nothing when $WhatIfPreference is set, even with -Force' {
            $WhatIfPreference = $true
            try {
                Write-BlockDevice -Path $target -Data (New-RandomBytes 512) -Force
            }
            finally {
                $WhatIfPreference = $false
            }
            Get-FileSha256 $target | Should -Be $zeroHash
        }
    }

    Context 'errors' {
        It 'fails with BlockMisaligned for -Data that is not a whole number of sectors, writing nothing' {
            { Write-BlockDevice -Path $target -Data (New-RandomBytes 100) -Force -ErrorAction Stop } |
                Should -Throw -ErrorId 'BlockMisaligned,VirtualDevices.PowerShell.Commands.Block.WriteBlockDeviceCommand'
            Get-FileSha256 $target | Should -Be $zeroHash
        }

        It 'fails with BlockMisaligned for an -InFile that is not a whole number of sectors' {
            $odd = New-TestFile 'odd.bin' (New-RandomBytes 1000)
            { Write-BlockDevice -Path $target -InFile $odd -Force -ErrorAction Stop } | Should -Throw -ErrorId 'BlockMisaligned,*'
            Get-FileSha256 $target | Should -Be $zeroHash
        }

        It 'fails with BlockMisaligned for an -Offset that is not a multiple of the sector size' {
            New-BlockDevice -Size 1MB -Name wmis | Out-Null
            { Write-BlockDevice -Device wmis -Offset 100 -Data (New-RandomBytes 512) -Force -ErrorAction Stop } |
                Should -Throw -ErrorId 'BlockMisaligned,*'
        }

        It 'fails with BlockOutOfRange for <Case>, writing nothing' -ForEach @(
            @{ Case = 'a sector at the end'; Sector = 2048; Length = 512 }
            @{ Case = 'data running past the end'; Sector = 2047; Length = 1024 }
            @{ Case = 'data larger than the device'; Sector = 0; Length = 2MB }
        ) {
            { Write-BlockDevice -Path $target -Sector $Sector -Data (New-RandomBytes $Length) -Force -ErrorAction Stop } |
                Should -Throw -ErrorId 'BlockOutOfRange,*'
            Get-FileSha256 $target | Should -Be $zeroHash
        }

        It 'fails with BlockOutOfRange for an -InFile larger than the device' {
            $big = New-TestFile 'big.bin' ([byte[]]::new(2MB))
            { Write-BlockDevice -Path $target -InFile $big -Force -ErrorAction Stop } | Should -Throw -ErrorId 'BlockOutOfRange,*'
            (Get-Item -LiteralPath $target).Length | Should -Be 1MB
        }

        It 'fails with BlockReadOnly on a device opened -ReadOnly' {
            Open-BlockDevice -Path $target -ReadOnly -Name wro | Out-Null
            { Write-BlockDevice -Device wro -Data (New-RandomBytes 512) -Force -ErrorAction Stop } | Should -Throw -ErrorId 'BlockReadOnly,*'
            Get-FileSha256 $target | Should -Be $zeroHash
        }

        It 'fails with DeviceNotFound for a missing -Path' {
            { Write-BlockDevice -Path (Join-Path $TestDrive 'missing.img') -Data (New-RandomBytes 512) -Force -ErrorAction Stop } |
                Should -Throw -ErrorId 'DeviceNotFound,*'
            Test-Path -LiteralPath (Join-Path $TestDrive 'missing.img') | Should -BeFalse
        }

        It 'fails with FileNotFound for a missing -InFile' {
            { Write-BlockDevice -Path $target -InFile (Join-Path $TestDrive 'missing.bin') -Force -ErrorAction Stop } |
                Should -Throw -ErrorId 'FileNotFound,*'
        }

        It 'fails with InvalidArgument when -Sector and -Offset are combined' {
            { Write-BlockDevice -Path $target -Sector 1 -Offset 512 -Data (New-RandomBytes 512) -Force -ErrorAction Stop } |
                Should -Throw -ErrorId 'InvalidArgument,*'
        }

        It 'reports the error of each failing piped object and writes the others' {
            $blocks = @(
                [VirtualDevices.Block.BlockData]::new('x', 0, 512, (New-RandomBytes 512 -Seed 40))
                [VirtualDevices.Block.BlockData]::new('x', 4096, 512, (New-RandomBytes 512 -Seed 41))
                [VirtualDevices.Block.BlockData]::new('x', 2, 512, (New-RandomBytes 512 -Seed 42))
            )
            $blocks | Write-BlockDevice -Path $target -Force -ErrorAction SilentlyContinue -ErrorVariable failure

            $failure.Count | Should -Be 1
            $failure[0].Exception.ErrorId | Should -Be 'BlockOutOfRange'
            $file = [IO.File]::ReadAllBytes($target)
            Get-BytesHash (Get-Slice $file 0 512) | Should -Be (Get-BytesHash $blocks[0].Data)
            Get-BytesHash (Get-Slice $file 1024 512) | Should -Be (Get-BytesHash $blocks[2].Data)
        }
    }
}
